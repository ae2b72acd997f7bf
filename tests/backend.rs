#[test]
#[cfg(target_os = "linux")]
fn backend_is_epoll_on_linux() {
    let lp = event::EventLoop::new().unwrap();
    assert_eq!(lp.backend(), "epoll");
    assert_eq!(event::backend(), "epoll");
}

#[test]
#[cfg(any(target_os = "macos", target_os = "freebsd"))]
fn backend_is_kqueue_on_bsd() {
    assert_eq!(event::backend(), "kqueue");
}
