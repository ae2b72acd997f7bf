//! Readers for another process's CPU time and memory.

use std::fs;

/// Total CPU time (all threads, including exited ones) of process `pid` in ns,
/// via clock_getcpuclockid + clock_gettime (nanosecond resolution).
pub fn cpu_ns(pid: i32) -> Option<u64> {
    // SAFETY: both calls write only to the local out-parameters passed by valid pointers;
    // a zeroed timespec is a valid value.
    unsafe {
        let mut clk: libc::clockid_t = 0;
        if libc::clock_getcpuclockid(pid, &mut clk) != 0 {
            return None;
        }
        let mut ts: libc::timespec = std::mem::zeroed();
        if libc::clock_gettime(clk, &mut ts) != 0 {
            return None;
        }
        Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
    }
}

/// (utime, stime) of process `pid` in clock ticks, from /proc/PID/stat.
pub fn user_sys_ticks(pid: i32) -> Option<(u64, u64)> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the ")" that closes comm: state is field 3; utime=14, stime=15.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some((f.get(11)?.parse().ok()?, f.get(12)?.parse().ok()?))
}

/// A "VmXXX:   1234 kB" field of /proc/PID/status, in bytes.
pub fn status_kb(pid: i32, field: &str) -> Option<u64> {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    for line in s.lines() {
        if let Some(v) = line.strip_prefix(field) {
            let v = v.trim_start_matches(':').trim();
            let kb: u64 = v.split_whitespace().next()?.parse().ok()?;
            return Some(kb * 1024);
        }
    }
    None
}

pub fn rss_bytes(pid: i32) -> Option<u64> {
    status_kb(pid, "VmRSS")
}

pub fn peak_rss_bytes(pid: i32) -> Option<u64> {
    status_kb(pid, "VmHWM")
}

/// Number of open file descriptors of `pid`.
pub fn fd_count(pid: i32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

/// Number of open fds of `pid` that are `anon_inode:[KIND]` (e.g. "io_uring", "eventpoll").
pub fn anon_inode_count(pid: i32, kind: &str) -> usize {
    let want = format!("anon_inode:[{kind}]");
    let Ok(d) = fs::read_dir(format!("/proc/{pid}/fd")) else { return 0 };
    d.filter_map(|e| fs::read_link(e.ok()?.path()).ok()).filter(|l| l.as_os_str() == want.as_str()).count()
}

/// Raise this process's RLIMIT_NOFILE soft limit to its hard limit; returns the new soft limit.
pub fn raise_nofile() -> u64 {
    // SAFETY: getrlimit/setrlimit read and write the local `rlimit` through a valid pointer;
    // a zeroed rlimit is a valid value.
    unsafe {
        let mut r: libc::rlimit = std::mem::zeroed();
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
        r.rlim_cur = r.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
        r.rlim_cur as u64
    }
}

/// Pin the calling thread (process, if single-threaded) to one CPU.
pub fn pin_to_cpu(cpu: usize) -> bool {
    // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET bounds-checks `cpu`;
    // sched_setaffinity reads `size_of::<cpu_set_t>()` bytes of the local set.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

/// Pin the calling thread to a set of CPUs.
pub fn pin_to_cpus(cpus: &[usize]) -> bool {
    // SAFETY: as in `pin_to_cpu`.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &c in cpus {
            libc::CPU_SET(c, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

/// Number of online CPUs.
pub fn online_cpus() -> usize {
    // SAFETY: sysconf takes no pointers.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    if n < 1 {
        1
    } else {
        n as usize
    }
}

/// Number of TCP sockets in LISTEN state bound to 127.0.0.1:`port` or 0.0.0.0:`port`
/// (from /proc/net/tcp). With SO_REUSEPORT each loop's listener is one entry.
pub fn listeners_on_port(port: u16) -> usize {
    let Ok(s) = fs::read_to_string("/proc/net/tcp") else { return 0 };
    let want = [format!("0100007F:{port:04X}"), format!("00000000:{port:04X}")];
    s.lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && want.iter().any(|w| w == f[1]) && f[3] == "0A"
        })
        .count()
}
