//! What both servers need: finding binaries, spawning children that die
//! with the test process, stopping them, reading logs, and the registry of
//! what the process cleans up when it exits (children, and the directories
//! of [`TempDir`](crate::TempDir)).

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, Once, OnceLock, PoisonError, TryLockError, mpsc};
use std::thread;
use std::time::{Duration, Instant};

/// Directories searched after the `PATH`: daemons live in `sbin`, which is
/// often not on a normal user's `PATH`.
const EXTRA_DIRS: &[&str] = &["/usr/sbin", "/usr/local/sbin", "/sbin"];

/// Prefix of the temporary directories, followed by the owner's pid.
pub(crate) const PREFIX: &str = "wf-testkit-";

/// The first of `names` found as an executable file on the `PATH` or in
/// [`EXTRA_DIRS`].
pub(crate) fn find_binary(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path).chain(EXTRA_DIRS.iter().map(PathBuf::from)).collect();
    names.iter().find_map(|name| {
        dirs.iter()
            .map(|dir| dir.join(name))
            .find(|p| fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
    })
}

/// Like [`find_binary`], but a missing binary panics with the command that
/// installs it: tests must fail, not skip, on a machine without it.
pub(crate) fn require_binary(names: &[&str], package: &str) -> PathBuf {
    find_binary(names).unwrap_or_else(|| {
        panic!(
            "{} not found on PATH (nor in {}); install it: `sudo apt-get install -y {package}` \
             (or run `cargo xtask test`, which installs it when run as root on Debian)",
            names.join(" / "),
            EXTRA_DIRS.join(", "),
        )
    })
}

/// Whether the process runs as root.
pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// What the process must clean up when it exits: servers and directories
/// still alive then belong to handles that were never dropped (`static`s).
pub(crate) struct Live {
    pids: Vec<libc::pid_t>,
    pub(crate) dirs: Vec<PathBuf>,
}

static LIVE: Mutex<Live> = Mutex::new(Live { pids: Vec::new(), dirs: Vec::new() });

/// The registry of [`Live`] things, with the exit handler installed.
pub(crate) fn live() -> MutexGuard<'static, Live> {
    static AT_EXIT: Once = Once::new();
    AT_EXIT.call_once(|| {
        // SAFETY: at_exit is a plain function that never unwinds.
        unsafe { libc::atexit(at_exit) };
    });
    LIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs when the process exits normally (the test harness returns from
/// `main` or calls `exit`): kills the servers and removes the directories
/// nobody dropped. A process that is killed skips this; then
/// `PR_SET_PDEATHSIG` kills the servers and the next start removes the
/// directories.
extern "C" fn at_exit() {
    // Another thread may hold the lock forever (exit does not stop threads):
    // then do nothing rather than hang.
    let mut live = match LIVE.try_lock() {
        Ok(guard) => guard,
        Err(TryLockError::Poisoned(e)) => e.into_inner(),
        Err(TryLockError::WouldBlock) => return,
    };
    for pid in live.pids.drain(..) {
        // SAFETY: the pid is a child of ours that was not reaped yet.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
    }
    for dir in live.dirs.drain(..) {
        let _ = fs::remove_dir_all(dir);
    }
}

/// Removes the temporary directories of test processes that are gone (a
/// server kept in a `static` is never dropped, and a killed test drops
/// nothing).
pub(crate) fn remove_stale_dirs() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)).and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        let Ok(pid) = pid.parse::<libc::pid_t>() else { continue };
        // SAFETY: signal 0 only checks whether the process exists.
        let gone =
            unsafe { libc::kill(pid, 0) } == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

/// Spawns `cmd` so that the child is killed (SIGKILL) when the test process
/// dies, with stdin closed and stdout and stderr appended to `output`.
///
/// Linux delivers `PR_SET_PDEATHSIG` when the *thread* that forked the child
/// exits, not the process. Test threads end after each test, so children are
/// forked by one thread that lives as long as the process: a server kept in a
/// `static` survives the test that started it.
pub(crate) fn spawn(mut cmd: Command, output: &Path) -> ServerProcess {
    static SPAWNER: OnceLock<mpsc::Sender<SpawnRequest>> = OnceLock::new();
    let program = cmd.get_program().to_string_lossy().into_owned();
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(output)
        .unwrap_or_else(|e| panic!("testkit: cannot open {}: {e}", output.display()));
    let log2 = log.try_clone().unwrap_or_else(|e| panic!("testkit: cannot dup {}: {e}", output.display()));
    cmd.stdin(Stdio::null()).stdout(log).stderr(log2);
    die_with_parent(&mut cmd);
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        thread::Builder::new()
            .name("testkit-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("testkit: cannot start the spawner thread");
        tx
    });
    let (tx, rx) = mpsc::channel();
    spawner.send((cmd, tx)).expect("testkit: the spawner thread is gone");
    match rx.recv().expect("testkit: the spawner thread is gone") {
        Ok(child) => {
            live().pids.push(child.id() as libc::pid_t);
            ServerProcess { child, reaped: false }
        }
        Err(e) => panic!("testkit: cannot run {program}: {e}"),
    }
}

#[cfg(target_os = "linux")]
fn die_with_parent(cmd: &mut Command) {
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure only makes async-signal-safe system calls and
    // allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died before prctl: then nobody kills us.
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_cmd: &mut Command) {}

/// A server child process, killed on exit of the test process (see
/// [`spawn`]) and on drop (SIGKILL; [`terminate`](Self::terminate) first for
/// a clean stop).
#[derive(Debug)]
pub(crate) struct ServerProcess {
    child: Child,
    reaped: bool,
}

impl ServerProcess {
    pub(crate) fn id(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process has exited (it is reaped then).
    pub(crate) fn exited(&mut self) -> bool {
        if !self.reaped && !matches!(self.child.try_wait(), Ok(None)) {
            self.reaped = true;
            let pid = self.child.id() as libc::pid_t;
            live().pids.retain(|p| *p != pid);
        }
        self.reaped
    }

    /// Stops the process: SIGTERM, then SIGKILL if it is still running after
    /// `grace`; reaps it either way.
    pub(crate) fn terminate(&mut self, grace: Duration) {
        if self.exited() {
            return;
        }
        if !grace.is_zero() {
            // SAFETY: the child is not reaped yet, so the pid is still ours.
            unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
            let deadline = Instant::now() + grace;
            while Instant::now() < deadline {
                if self.exited() {
                    return;
                }
                thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.exited();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.terminate(Duration::ZERO);
    }
}

/// The last `lines` lines of each of `files` that exists, for panic messages.
pub(crate) fn tail(files: &[&Path], lines: usize) -> String {
    let mut out = String::new();
    for file in files {
        let Ok(bytes) = fs::read(file) else { continue };
        let text = String::from_utf8_lossy(&bytes);
        let all: Vec<&str> = text.lines().collect();
        out.push_str(&format!("--- last lines of {}:\n", file.display()));
        for line in &all[all.len().saturating_sub(lines)..] {
            out.push_str(line);
            out.push('\n');
        }
    }
    if out.is_empty() { "(no log written)\n".into() } else { out }
}

/// Percent-encodes `s` for the user-info part of a URL.
pub(crate) fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Why a launch failed.
pub(crate) enum Failure {
    /// The server exited because its port was in use: try another.
    PortTaken(String),
    /// Anything else: a panic message.
    Other(String),
}

/// How many ports a start tries when the port it was given is taken.
const PORT_ATTEMPTS: usize = 8;

/// Calls `launch` with free ports until one is not taken meanwhile.
///
/// Panics with `what`'s last log when every attempt found its port taken,
/// or with the message of any other failure.
pub(crate) fn launch_on_free_port(what: &str, mut launch: impl FnMut(u16) -> Result<(), Failure>) {
    let mut last_log = String::new();
    for _ in 0..PORT_ATTEMPTS {
        match launch(crate::free_port()) {
            Ok(()) => return,
            Err(Failure::PortTaken(log)) => last_log = log,
            Err(Failure::Other(msg)) => panic!("{msg}"),
        }
    }
    panic!("testkit: {what} found each of {PORT_ATTEMPTS} free ports taken; last log:\n{last_log}");
}

/// Calls `launch` again on `port` (a restart), waiting while another
/// process holds the port, up to `timeout`.
pub(crate) fn relaunch(what: &str, port: u16, timeout: Duration, mut launch: impl FnMut() -> Result<(), Failure>) {
    let deadline = Instant::now() + timeout;
    loop {
        match launch() {
            Ok(()) => return,
            Err(Failure::PortTaken(log)) if Instant::now() >= deadline => {
                panic!("testkit: cannot restart {what}: port {port} is taken\n{log}")
            }
            Err(Failure::PortTaken(_)) => thread::sleep(Duration::from_millis(100)),
            Err(Failure::Other(msg)) => panic!("{msg}"),
        }
    }
}
