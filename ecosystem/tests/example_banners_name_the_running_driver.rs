//! The http and tls_echo examples print `event::backend()` from inside their loop: the driver
//! that loop really runs (io_uring under `EVENT_BACKEND=io_uring`), not the compiled-in
//! multiplexer.
#[path = "../../tests/common/mod.rs"]
mod common;

/// The driver `EVENT_BACKEND` asks for, if it names one (`auto` may give either).
fn expected() -> Option<&'static str> {
    match std::env::var("EVENT_BACKEND").as_deref() {
        Ok("io_uring") if std::env::var_os("EVENT_NO_IO_URING").is_none() => Some("io_uring"),
        Ok("epoll") => Some("epoll"),
        _ => None,
    }
}

fn check(example: &str) {
    let server = common::ExampleProcess::example(example, &[]);
    let banner = &server.banner;
    match expected() {
        Some(driver) => assert!(
            banner.contains(&format!("(backend: {driver})")),
            "{example} under EVENT_BACKEND: {banner}"
        ),
        None => assert!(
            banner.contains("(backend: io_uring)") || banner.contains("(backend: epoll)"),
            "{example}: {banner}"
        ),
    }
}

#[test]
fn http_example_banner_names_the_running_driver() {
    check("http");
}

#[test]
fn tls_echo_example_banner_names_the_running_driver() {
    check("tls_echo");
}
