//! The event loop's drivers: an explicit `Backend`, `EVENT_BACKEND`, and the fallback from
//! io_uring to epoll when the kernel refuses io_uring.
//!
//! Whatever depends on the environment runs in a child process (this test binary again, running
//! only `child_reports_backend`), so no test ever changes this process's environment. The
//! fallback is forced in the child with a seccomp filter that makes `io_uring_setup` fail with
//! `ENOSYS`, as on a kernel built without io_uring or a container that blocks it.

use std::time::Duration;

use event::{Backend, EventLoop, Socket, SocketAddress};

/// Bytes sent through the loop by [`echo_round_trip`]: more than one read's worth.
const ECHO_LEN: usize = 100_000;

/// Listens on 127.0.0.1:0 on `lp`, connects to itself, writes `ECHO_LEN` bytes and reads them
/// back through an echo task; returns how many came back intact.
fn echo_round_trip(lp: &EventLoop) -> Result<usize, String> {
    let msg: Vec<u8> = (0..ECHO_LEN).map(|i| (i * 31 % 251) as u8).collect();
    let work = async {
        let server = Socket::listen_on(SocketAddress::localhost(0)).map_err(|e| e.to_string())?;
        let addr = server.local_address();
        let _echo = event::spawn(async move {
            let Ok(client) = server.accept().await else {
                return;
            };
            while let Ok(bytes) = client.read(64 * 1024).await {
                if client.write(&bytes).await.is_err() {
                    return;
                }
            }
        });
        let client = Socket::connect(addr).await.map_err(|e| e.to_string())?;
        client.write(&msg).await.map_err(|e| e.to_string())?;
        let mut back = Vec::with_capacity(msg.len());
        while back.len() < msg.len() {
            let bytes = client
                .read(msg.len() - back.len())
                .await
                .map_err(|e| e.to_string())?;
            back.extend(bytes);
        }
        if back != msg {
            return Err("the echoed bytes differ from those sent".to_string());
        }
        Ok(back.len())
    };
    lp.block_on(event::timeout(Duration::from_secs(10), work))
        .map_err(|_| "echo round trip timed out".to_string())?
}

#[test]
fn backend_names_parse() {
    assert_eq!("auto".parse::<Backend>(), Ok(Backend::Auto));
    assert_eq!("epoll".parse::<Backend>(), Ok(Backend::Epoll));
    assert_eq!("io_uring".parse::<Backend>(), Ok(Backend::IoUring));
    assert_eq!("io-uring".parse::<Backend>(), Ok(Backend::IoUring));
    assert_eq!("uring".parse::<Backend>(), Ok(Backend::IoUring));
    assert_eq!("IO_URING".parse::<Backend>(), Ok(Backend::IoUring));
    let err = "nope".parse::<Backend>().unwrap_err();
    assert!(err.contains("nope"), "{err}");
    assert_eq!(Backend::default(), Backend::Auto);
}

#[test]
fn explicit_epoll_never_falls_back() {
    let lp = EventLoop::builder()
        .backend(Backend::Epoll)
        .build()
        .unwrap_or_else(|e| panic!("Backend::Epoll: {e}"));
    assert_eq!(lp.backend(), event::backend());
    #[cfg(target_os = "linux")]
    assert_eq!(lp.backend(), "epoll");
    assert_eq!(lp.fallback_reason(), None);
    assert_eq!(echo_round_trip(&lp), Ok(ECHO_LEN));
}

/// Whether io_uring is expected to work here: CI sets `EVENT_NO_IO_URING` when its probe finds
/// the kernel refusing io_uring, and the io_uring tests then check the refusal instead.
#[cfg(target_os = "linux")]
fn io_uring_here() -> bool {
    std::env::var_os("EVENT_NO_IO_URING").is_none()
}

#[test]
#[cfg(target_os = "linux")]
fn explicit_io_uring_uses_io_uring() {
    // This machine and CI run Linux 6.x with io_uring enabled: a refusal is a failure here,
    // unless CI found io_uring refused on its machine and said so (EVENT_NO_IO_URING).
    if !io_uring_here() {
        let e = EventLoop::builder()
            .backend(Backend::IoUring)
            .build()
            .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::Unsupported, "{e}");
        return;
    }
    let lp = match EventLoop::builder().backend(Backend::IoUring).build() {
        Ok(lp) => lp,
        Err(e) => panic!("Backend::IoUring failed ({:?}): {e}", e.kind()),
    };
    assert_eq!(lp.backend(), "io_uring");
    assert_eq!(lp.fallback_reason(), None);
    assert_eq!(echo_round_trip(&lp), Ok(ECHO_LEN));
}

#[test]
#[cfg(target_os = "linux")]
fn free_backend_names_the_readiness_multiplexer() {
    // Outside a loop `event::backend()` names the compiled-in multiplexer (inside one, that
    // loop's driver: tests/event_loop.rs, backend_inside_a_loop).
    assert_eq!(event::backend(), "epoll");
}

#[test]
#[cfg(any(target_os = "macos", target_os = "freebsd"))]
fn backend_is_kqueue_on_bsd() {
    assert_eq!(event::backend(), "kqueue");
}

/// Makes `io_uring_setup` fail with `ENOSYS` for this thread and the threads it starts later.
#[cfg(target_os = "linux")]
fn deny_io_uring_setup() {
    use libc::{
        BPF_ABS, BPF_JEQ, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W, ENOSYS, SECCOMP_RET_ALLOW,
        SECCOMP_RET_ERRNO, sock_filter, sock_fprog,
    };
    let insn = |code: u32, k: u32, jt: u8, jf: u8| sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    };
    // A = seccomp_data.nr; if A == io_uring_setup return ERRNO(ENOSYS) else ALLOW. (No arch
    // check: a test helper, not a sandbox.)
    let mut program = [
        insn(
            BPF_LD | BPF_W | BPF_ABS,
            std::mem::offset_of!(libc::seccomp_data, nr) as u32,
            0,
            0,
        ),
        insn(
            BPF_JMP | BPF_JEQ | BPF_K,
            libc::SYS_io_uring_setup as u32,
            0,
            1,
        ),
        insn(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS as u32, 0, 0),
        insn(BPF_RET | BPF_K, SECCOMP_RET_ALLOW, 0, 0),
    ];
    let fprog = sock_fprog {
        len: program.len() as u16,
        filter: program.as_mut_ptr(),
    };
    // SAFETY: PR_SET_NO_NEW_PRIVS takes plain integers and touches no memory of ours; it is
    // required before an unprivileged process may install a seccomp filter.
    let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    assert_eq!(
        rc,
        0,
        "PR_SET_NO_NEW_PRIVS: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: `fprog` points at `program`, a valid classic-BPF program of `len` instructions;
    // both outlive the call, and the kernel copies the program before returning.
    let rc = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &fprog as *const sock_fprog,
        )
    };
    assert_eq!(rc, 0, "PR_SET_SECCOMP: {}", std::io::Error::last_os_error());
}

/// The child's side: does nothing unless `EVENT_TEST_CHILD=1` (set only by [`child`]). Then,
/// under the seccomp filter if `EVENT_TEST_SECCOMP=1`, builds `EventLoop::new()` (which reads
/// `EVENT_BACKEND`), runs an echo round trip on it, and prints one `RESULT ...` line.
#[test]
fn child_reports_backend() {
    if std::env::var("EVENT_TEST_CHILD").as_deref() != Ok("1") {
        return;
    }
    if std::env::var("EVENT_TEST_SECCOMP").as_deref() == Ok("1") {
        #[cfg(target_os = "linux")]
        deny_io_uring_setup();
        #[cfg(not(target_os = "linux"))]
        panic!("EVENT_TEST_SECCOMP needs Linux");
    }
    let line = match EventLoop::new() {
        Ok(lp) => {
            let echo = match echo_round_trip(&lp) {
                Ok(n) => format!("ok:{n}"),
                Err(e) => format!("failed:{}", e.replace(' ', "_")),
            };
            // The fallback reason goes last: it is free text.
            format!(
                "RESULT backend={} echo={echo} fallback={}",
                lp.backend(),
                lp.fallback_reason().unwrap_or("none")
            )
        }
        Err(e) => format!("RESULT error={:?}:{e}", e.kind()),
    };
    println!("{line}");
}

/// What the child reported.
#[derive(Debug)]
enum Report {
    Loop {
        backend: String,
        echo: String,
        fallback: Option<String>,
    },
    Error {
        kind: String,
        message: String,
    },
}

/// Runs `child_reports_backend` in a child process with `envs` on top of this process's
/// environment minus every `EVENT_BACKEND`/`EVENT_TEST_*` variable (so a case that lists no
/// `EVENT_BACKEND` gets the default), and parses its `RESULT` line.
fn child(envs: &[(&str, &str)]) -> Report {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = std::process::Command::new(&exe);
    cmd.args([
        "child_reports_backend",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ]);
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k == "EVENT_BACKEND" || k.starts_with("EVENT_TEST_") {
            cmd.env_remove(&key);
        }
    }
    cmd.env("EVENT_TEST_CHILD", "1").envs(envs.iter().copied());
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", exe.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "child {envs:?} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let Some(line) = stdout
        .lines()
        .find_map(|l| l.find("RESULT ").map(|at| &l[at + "RESULT ".len()..]))
    else {
        panic!("child {envs:?} printed no RESULT line:\n{stdout}\n{stderr}");
    };
    if let Some(rest) = line.strip_prefix("error=") {
        let (kind, message) = rest.split_once(':').expect("error=KIND:MESSAGE");
        return Report::Error {
            kind: kind.to_string(),
            message: message.to_string(),
        };
    }
    let field = |name: &str| {
        let start = line
            .find(&format!("{name}="))
            .unwrap_or_else(|| panic!("no {name}= in {line:?}"))
            + name.len()
            + 1;
        let value = &line[start..];
        // `fallback` is last and may contain spaces; the others end at the next space.
        if name == "fallback" {
            value
        } else {
            value.split(' ').next().unwrap()
        }
    };
    Report::Loop {
        backend: field("backend").to_string(),
        echo: field("echo").to_string(),
        fallback: Some(field("fallback"))
            .filter(|f| *f != "none")
            .map(str::to_string),
    }
}

/// The child's loop: (backend, fallback reason); fails unless it echoed every byte.
fn child_loop(envs: &[(&str, &str)]) -> (String, Option<String>) {
    match child(envs) {
        Report::Loop {
            backend,
            echo,
            fallback,
        } => {
            assert_eq!(
                echo,
                format!("ok:{ECHO_LEN}"),
                "child {envs:?} on {backend}"
            );
            (backend, fallback)
        }
        Report::Error { kind, message } => {
            panic!("child {envs:?}: EventLoop::new() failed: {kind}: {message}")
        }
    }
}

/// The child's error: (kind, message); fails if it built a loop.
fn child_error(envs: &[(&str, &str)]) -> (String, String) {
    match child(envs) {
        Report::Error { kind, message } => (kind, message),
        loop_ @ Report::Loop { .. } => panic!("child {envs:?}: expected an error, got {loop_:?}"),
    }
}

#[test]
fn env_epoll_selects_epoll() {
    let (backend, fallback) = child_loop(&[("EVENT_BACKEND", "epoll")]);
    assert_eq!(backend, event::backend());
    assert_eq!(fallback, None);
}

#[test]
fn env_bogus_is_invalid_input() {
    let (kind, message) = child_error(&[("EVENT_BACKEND", "bogus")]);
    assert_eq!(kind, "InvalidInput", "{message}");
    assert!(message.contains("EVENT_BACKEND"), "{message}");
    assert!(message.contains("bogus"), "{message}");
}

#[test]
#[cfg(target_os = "linux")]
fn env_io_uring_selects_io_uring() {
    if !io_uring_here() {
        let (kind, _) = child_error(&[("EVENT_BACKEND", "io_uring")]);
        assert_eq!(kind, "Unsupported");
        return;
    }
    let (backend, fallback) = child_loop(&[("EVENT_BACKEND", "io_uring")]);
    assert_eq!(backend, "io_uring");
    assert_eq!(fallback, None);
}

#[test]
#[cfg(target_os = "linux")]
fn env_unset_is_auto_and_picks_io_uring() {
    let (backend, fallback) = child_loop(&[]);
    if !io_uring_here() {
        assert_eq!(backend, "epoll");
        assert!(
            fallback.is_some(),
            "auto on a machine without io_uring says why"
        );
        return;
    }
    assert_eq!(backend, "io_uring", "fallback: {fallback:?}");
    assert_eq!(fallback, None);
}

/// The test that forces the fallback path: io_uring_setup fails with ENOSYS, so `Auto` runs on
/// epoll, says why, and the epoll loop serves a real echo round trip.
#[test]
#[cfg(target_os = "linux")]
fn seccomp_auto_falls_back_to_epoll_and_echoes() {
    for envs in [
        &[("EVENT_TEST_SECCOMP", "1"), ("EVENT_BACKEND", "auto")][..],
        // No EVENT_BACKEND at all: the default is Auto too.
        &[("EVENT_TEST_SECCOMP", "1")][..],
    ] {
        let (backend, fallback) = child_loop(envs);
        assert_eq!(backend, "epoll", "{envs:?}");
        let reason = fallback.unwrap_or_else(|| panic!("{envs:?}: no fallback reason"));
        assert!(
            reason.starts_with("io_uring unavailable (io_uring_setup: "),
            "{reason}"
        );
        // ENOSYS, from our filter, and not some other refusal.
        assert!(reason.contains("os error 38"), "{reason}");
    }
}

#[test]
#[cfg(target_os = "linux")]
fn seccomp_explicit_io_uring_is_unsupported() {
    let (kind, message) =
        child_error(&[("EVENT_TEST_SECCOMP", "1"), ("EVENT_BACKEND", "io_uring")]);
    assert_eq!(kind, "Unsupported", "{message}");
    assert!(message.contains("io_uring_setup"), "{message}");
}

#[test]
#[cfg(target_os = "linux")]
fn seccomp_explicit_epoll_does_not_fall_back() {
    // Explicit epoll never tries io_uring, so the filter changes nothing and no reason is given.
    let (backend, fallback) =
        child_loop(&[("EVENT_TEST_SECCOMP", "1"), ("EVENT_BACKEND", "epoll")]);
    assert_eq!(backend, "epoll");
    assert_eq!(fallback, None);
}
