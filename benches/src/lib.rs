//! Helpers shared by the benchmark binaries: CPU time of a process,
//! medians, CPU pinning, a quiet-machine check and child servers.

pub mod idle;

use std::io::{self, Read};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The body every hello server answers with.
pub const HELLO_BODY: &str = "Hello World";

/// Ends this process when its standard input closes (the benchmark
/// drivers close it to stop a server). Runs on its own thread.
pub fn exit_on_stdin_eof() {
    std::thread::spawn(|| {
        let mut sink = [0u8; 64];
        let mut stdin = io::stdin().lock();
        while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
        std::process::exit(0);
    });
}

/// The port given as the first argument, or `default`.
pub fn port_arg(default: u16) -> u16 {
    std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(default)
}

/// The number after `flag` on the command line (`--flag N`), if given.
///
/// # Panics
///
/// When the flag is given without a number after it.
pub fn flag_value(flag: &str) -> Option<usize> {
    let mut args = std::env::args().skip_while(|a| a != flag);
    args.next()?;
    Some(args.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{flag} needs a number")))
}

/// Clock ticks per second: the unit of utime and stime in `/proc/<pid>/stat`.
pub fn clk_tck() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// CPU time of a process, in seconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcCpu {
    /// User time (clock-tick resolution, usually 10 ms).
    pub user: f64,
    /// System time (clock-tick resolution).
    pub sys: f64,
    /// User plus system time of all threads at nanosecond resolution (the
    /// sum of `/proc/<pid>/task/*/schedstat`), or `user + sys` where
    /// schedstat is missing.
    pub total: f64,
}

impl ProcCpu {
    /// The time spent between `earlier` and `self`.
    pub fn since(&self, earlier: &ProcCpu) -> ProcCpu {
        ProcCpu { user: self.user - earlier.user, sys: self.sys - earlier.sys, total: self.total - earlier.total }
    }
}

/// CPU time of process `pid` (all its threads) from `/proc`.
pub fn proc_cpu(pid: u32) -> Option<ProcCpu> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold
    // spaces: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let user = f.get(11)?.parse::<f64>().ok()? / clk_tck();
    let sys = f.get(12)?.parse::<f64>().ok()? / clk_tck();
    let mut ns = 0u64;
    let mut found = false;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
        let Ok(text) = std::fs::read_to_string(task.path().join("schedstat")) else { continue };
        if let Some(v) = text.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()) {
            ns += v;
            found = true;
        }
    }
    let total = if found { ns as f64 / 1e9 } else { user + sys };
    Some(ProcCpu { user, sys, total })
}

/// CPU time of this process's children that were waited for, in seconds.
pub fn children_cpu_secs() -> f64 {
    rusage_secs(libc::RUSAGE_CHILDREN)
}

/// CPU time of this process (all threads), from `getrusage`
/// (microsecond resolution); `total` is `user + sys`.
pub fn self_cpu() -> ProcCpu {
    let (user, sys) = rusage(libc::RUSAGE_SELF);
    ProcCpu { user, sys, total: user + sys }
}

fn rusage_secs(who: libc::c_int) -> f64 {
    let (user, sys) = rusage(who);
    user + sys
}

/// (user, system) seconds.
fn rusage(who: libc::c_int) -> (f64, f64) {
    // SAFETY: getrusage fills the zeroed struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage.
    unsafe { libc::getrusage(who, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (tv(ru.ru_utime), tv(ru.ru_stime))
}

/// Pins the calling thread, and every thread it creates afterwards, to
/// CPU `cpu`. Call it first thing in `main`.
pub fn pin_to_cpu(cpu: usize) -> io::Result<()> {
    // SAFETY: a zeroed cpu_set_t is an empty set; CPU_SET and
    // sched_setaffinity only touch the set we own.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Pins the calling thread, and every thread it creates afterwards, to
/// the CPUs `cpus`.
pub fn pin_to_cpus(cpus: &[usize]) -> io::Result<()> {
    // SAFETY: as in `pin_to_cpu`: the set is ours, zeroed then filled.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &cpu in cpus {
            libc::CPU_SET(cpu, &mut set);
        }
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The median (the upper one for an even count); NaN for none.
pub fn median(v: &[f64]) -> f64 {
    let mut v: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// System-wide CPU counters from `/proc/stat`, in ticks.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuStat {
    /// Ticks not idle (user, nice, system, irq, softirq, steal).
    pub busy: u64,
    /// Ticks the hypervisor gave to someone else.
    pub steal: u64,
    /// All ticks.
    pub total: u64,
}

impl CpuStat {
    /// Now.
    pub fn now() -> CpuStat {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
            return CpuStat::default();
        };
        let v: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
        let at = |i: usize| v.get(i).copied().unwrap_or(0);
        // user nice system idle iowait irq softirq steal
        let busy = at(0) + at(1) + at(2) + at(5) + at(6) + at(7);
        CpuStat { busy, steal: at(7), total: busy + at(3) + at(4) }
    }

    /// Fractions (busy, steal) of all CPUs' time since `earlier`.
    pub fn since(&self, earlier: &CpuStat) -> (f64, f64) {
        let total = self.total.saturating_sub(earlier.total).max(1) as f64;
        (self.busy.saturating_sub(earlier.busy) as f64 / total, self.steal.saturating_sub(earlier.steal) as f64 / total)
    }

    /// CPU seconds (all CPUs together) not idle since `earlier`.
    pub fn busy_secs_since(&self, earlier: &CpuStat) -> f64 {
        self.busy.saturating_sub(earlier.busy) as f64 / clk_tck()
    }
}

/// Waits, up to `max`, for a second in which the machine's CPUs were at
/// most `busy_max` busy (other builds, other benchmarks). Returns the busy
/// fraction of the last second watched.
pub fn wait_quiet(busy_max: f64, max: Duration) -> f64 {
    let start = Instant::now();
    let mut warned = false;
    loop {
        let a = CpuStat::now();
        std::thread::sleep(Duration::from_secs(1));
        let (busy, _) = CpuStat::now().since(&a);
        if busy <= busy_max || start.elapsed() >= max {
            if busy > busy_max {
                eprintln!("  (machine still {:.0}% busy after {:?}; measuring anyway)", busy * 100.0, max);
            }
            return busy;
        }
        if !warned {
            eprintln!("  (machine {:.0}% busy; waiting for it to calm down)", busy * 100.0);
            warned = true;
        }
    }
}

/// The 1-minute load average.
pub fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|x| x.parse().ok()))
        .unwrap_or(f64::NAN)
}

/// A binary built next to this one (`target/release/<name>`).
pub fn sibling(name: &str) -> PathBuf {
    let me = std::env::current_exe().expect("current_exe");
    let path = me.with_file_name(name);
    if !path.exists() {
        eprintln!(
            "{} is missing: build it with `cargo build --release -p benches --bins` (or run via `cargo xtask bench`)",
            path.display()
        );
        std::process::exit(2);
    }
    path
}

/// A benchmark server in a child process pinned to one CPU with
/// `taskset`; it stops (stdin closed, then SIGTERM, then killed by PID)
/// when dropped.
#[derive(Debug)]
pub struct PinnedServer {
    child: Child,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
}

impl PinnedServer {
    /// Starts `bin <port> <args...>` (a binary of this package) under
    /// `taskset -c <cpu>` and waits until it accepts connections.
    pub fn start(bin: &str, cpu: usize, port: u16, args: &[&str]) -> io::Result<PinnedServer> {
        let mut all = vec![port.to_string()];
        all.extend(args.iter().map(|a| a.to_string()));
        PinnedServer::start_program(&sibling(bin), cpu, port, &all)
    }

    /// Starts `program <args...>` (any server, e.g. a peer built outside
    /// this repository, told its port in `args`) under `taskset -c <cpu>`
    /// and waits until it accepts connections on `port`.
    pub fn start_program(program: &Path, cpu: usize, port: u16, args: &[String]) -> io::Result<PinnedServer> {
        let child = Command::new("taskset")
            .arg("-c")
            .arg(cpu.to_string())
            .arg(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()?;
        let mut server = PinnedServer { child, port };
        let name = program.display();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = server.child.try_wait()? {
                return Err(io::Error::other(format!("{name} exited at start: {status}")));
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(server);
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!("{name} does not listen on port {port}")));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Its process id (`taskset` execs the server, so the server's own).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its CPU time so far.
    pub fn cpu(&self) -> ProcCpu {
        proc_cpu(self.pid()).unwrap_or(ProcCpu { user: f64::NAN, sys: f64::NAN, total: f64::NAN })
    }

    /// Its resident set size now, in bytes (`VmRSS` of `/proc/<pid>/status`).
    pub fn rss(&self) -> Option<u64> {
        proc_status_kib(self.pid(), "VmRSS:").map(|k| k * 1024)
    }

    /// Waits up to `within` for it to exit; true if it did.
    fn exited_within(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for PinnedServer {
    fn drop(&mut self) {
        // The hello servers exit when their standard input closes; a peer
        // built elsewhere (C++ Workflow's benchmark server) on SIGTERM.
        drop(self.child.stdin.take());
        if self.exited_within(Duration::from_millis(500)) {
            return;
        }
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: kill only sends a signal to our own child.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        if self.exited_within(Duration::from_secs(3)) {
            return;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `kB` field (`VmRSS:`, `VmHWM:`) of `/proc/<pid>/status`, in KiB.
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..].split_whitespace().next()?.parse().ok()
}

/// What one timed run of a client reports.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunResult {
    /// Operations that failed.
    pub failed: usize,
    /// CPU seconds of a child process that did the work (`redis-benchmark`);
    /// `None`: this process's own CPU counts.
    pub child_cpu: Option<f64>,
    /// The rate the client measured itself (excluding its start-up).
    pub own_rate: Option<f64>,
}

/// One measured run: rate, CPU per operation, failures, disturbance.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sample {
    /// Operations per second.
    pub rate: f64,
    /// Client CPU µs per operation.
    pub client_us: f64,
    /// Server CPU µs per operation.
    pub server_us: f64,
    /// Failed operations.
    pub failed: usize,
    /// CPU used by other processes during the run, in cores.
    pub others: f64,
}

/// Other processes may use at most this much CPU (in cores) during a run
/// for it to count; a disturbed run is repeated, up to [`ATTEMPTS`] times.
pub const OTHERS_MAX: f64 = 0.10;
/// Attempts at an undisturbed run.
pub const ATTEMPTS: usize = 4;

/// Times `run` (`n` operations of client `name`) once the machine is
/// quiet, with this process's CPU (or the child's, if it reports one) and
/// the server's (`server_cpu`); repeats a run that other processes
/// disturbed, and prints each attempt as `unit`/s and µs per `unit`.
pub fn timed_run(
    name: &str,
    unit: &str,
    n: usize,
    server_cpu: &dyn Fn() -> ProcCpu,
    run: &mut dyn FnMut() -> RunResult,
) -> Sample {
    let mut attempt = 0;
    loop {
        attempt += 1;
        wait_quiet(OTHERS_MAX, Duration::from_secs(120));
        let stat0 = CpuStat::now();
        let (c0, s0) = (self_cpu(), server_cpu());
        let t0 = Instant::now();
        let r = run();
        let wall = t0.elapsed().as_secs_f64();
        let (c1, s1) = (self_cpu(), server_cpu());
        let busy = CpuStat::now().busy_secs_since(&stat0);
        let client = r.child_cpu.unwrap_or_else(|| c1.since(&c0).total);
        let srv = s1.since(&s0).total;
        let ops = n as f64;
        let s = Sample {
            rate: r.own_rate.unwrap_or(ops / wall),
            client_us: client * 1e6 / ops,
            server_us: srv * 1e6 / ops,
            failed: r.failed,
            others: ((busy - client - srv) / wall).max(0.0),
        };
        eprintln!(
            "  {name:<15} {:>9.0} {unit}/s  client {:>7.2} µs/{unit}  server {:>7.2} µs/{unit}  failed {}  others {:.2} cores",
            s.rate, s.client_us, s.server_us, s.failed, s.others
        );
        if s.others <= OTHERS_MAX || attempt == ATTEMPTS {
            return s;
        }
        eprintln!("  (others used {:.2} cores during that run: repeating it)", s.others);
    }
}

/// Pins this process to CPU 1 (servers go on CPU 0) and starts wf with
/// one poller thread and one compute thread; exits on failure.
pub fn pin_client_and_init_wf() {
    if let Err(e) = pin_to_cpu(1) {
        eprintln!("cannot pin to CPU 1: {e}");
        std::process::exit(2);
    }
    let mut settings = wf::Settings::default();
    settings.poller_threads = 1;
    settings.compute_threads = 1;
    wf::init(settings).expect("wf settings applied first");
}
