//! `cargo xtask bench fileio`: random 4 KiB preads of a page-cached file,
//! wf's file tasks against tokio and raw tokio-uring.
//!
//! A 256 MiB file is created in the temp dir and read once so that it sits
//! in the page cache (and re-read before every run: this VM evicts idle page
//! cache after about a minute). Each contestant then makes 200,000 preads
//! of 4 KiB at random 4 KiB-aligned offsets, 64 in flight:
//!
//! * `wf-uring`: wf with the io_uring backend (its default: a ring per
//!   CPU, submitted to by the two poller threads that run the tasks): 64
//!   series, each pread task's callback pushing the next pread onto its
//!   series;
//! * `wf-pool`: the same on the thread-pool backend (4 threads);
//! * `tokio-fs`: what `tokio::fs` does for file IO: `tokio::fs::File` has
//!   no positional read, so each read is a `spawn_blocking` of
//!   `FileExt::read_at` (tokio::fs runs every operation as `spawn_blocking`
//!   of the std call), 64 tasks on the default multi-thread runtime;
//! * `raw-uring`: tokio-uring on one thread, 64 local tasks each looping
//!   over `read_at` (one thread, no hop: the ceiling per thread).
//!
//! wf picks its backend once per process, so every contestant runs in a
//! child process (this binary re-executed with the contestant's name). Each
//! child prints its reads/s and its CPU µs per read; rounds alternate the
//! contestants and each figure is the median of 3 rounds.
//!
//! `fileio [--reads N] [--runs N] [--mib N]`; `fileio child <name> <file> <reads>` is one run.
//! wf runs with its default settings (two poller threads on two CPUs);
//! `WF_BENCH_POLLERS=n` in the environment sets its poller threads.

#![forbid(unsafe_code)]

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use benches::{median, self_cpu};

const INFLIGHT: usize = 64;
const BLOCK: u64 = 4096;
const CONTESTANTS: [&str; 4] = ["wf-uring", "wf-pool", "tokio-fs", "raw-uring"];

/// A small, fast PRNG (xorshift64*): the offsets need not be good, only random-looking and cheap.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A random block-aligned offset in a file of `blocks` blocks.
    fn offset(&mut self, blocks: u64) -> u64 {
        (self.next() % blocks) * BLOCK
    }
}

/// Per-thread offset generator seeded from a shared counter.
fn rng(seed: &AtomicU64) -> Rng {
    Rng(seed.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed) | 1)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("child") {
        let reads = args[3].parse().expect("reads");
        child(&args[1], Path::new(&args[2]), reads);
        return;
    }
    let flag = |name: &str, default: usize| {
        args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)?.parse().ok()).unwrap_or(default)
    };
    let reads = flag("--reads", 200_000);
    let runs = flag("--runs", 3);
    let mib = flag("--mib", 256) as u64;

    let path = std::env::temp_dir().join(format!("wf-bench-fileio-{}", std::process::id()));
    eprintln!("creating a {mib} MiB file in the temp dir");
    make_file(&path, mib << 20);
    let mut results: Vec<Vec<(f64, f64)>> = vec![Vec::new(); CONTESTANTS.len()];
    for round in 0..runs {
        for (i, name) in CONTESTANTS.iter().enumerate() {
            warm(&path);
            let out = Command::new(std::env::current_exe().expect("current_exe"))
                .args(["child", name, path.to_str().expect("utf-8 temp dir"), &reads.to_string()])
                .output()
                .expect("run a child");
            let text = String::from_utf8_lossy(&out.stdout);
            let fields: Vec<f64> = text.split_whitespace().filter_map(|x| x.parse().ok()).collect();
            if !out.status.success() || fields.len() != 2 {
                eprintln!("{name} failed: {}{}", text, String::from_utf8_lossy(&out.stderr));
                let _ = std::fs::remove_file(&path);
                std::process::exit(1);
            }
            eprintln!("  round {}: {name:<10} {:>9.0} reads/s  {:>5.2} µs CPU/read", round + 1, fields[0], fields[1]);
            results[i].push((fields[0], fields[1]));
        }
    }
    let _ = std::fs::remove_file(&path);

    let med: Vec<(f64, f64)> = results
        .iter()
        .map(|r| {
            (median(&r.iter().map(|x| x.0).collect::<Vec<_>>()), median(&r.iter().map(|x| x.1).collect::<Vec<_>>()))
        })
        .collect();
    println!(
        "\n{reads} random 4 KiB preads of a page-cached {mib} MiB file, {INFLIGHT} in flight, median of {runs} runs\n"
    );
    println!("| contestant | reads/s | CPU µs/read | all runs (reads/s) |");
    println!("|---|---:|---:|---|");
    for (i, name) in CONTESTANTS.iter().enumerate() {
        let all: Vec<String> = results[i].iter().map(|x| format!("{:.0}k", x.0 / 1e3)).collect();
        println!("| {name} | {:.0}k | {:.2} | {} |", med[i].0 / 1e3, med[i].1, all.join(", "));
    }
    let (uring, pool, tokio_fs, raw) = (med[0].0, med[1].0, med[2].0, med[3].0);
    println!();
    println!("wf io_uring / tokio::fs  = {:.2}  (goal >= 3)", uring / tokio_fs);
    println!("wf io_uring / raw uring  = {:.2}  (goal >= 0.8)", uring / raw);
    println!("wf io_uring / Workflow   = {:.2}  (Workflow 380k; goal >= 1.5, i.e. >= 570k)", uring / 380e3);
    println!("wf pool    / tokio::fs  = {:.2}", pool / tokio_fs);
}

/// Writes `len` bytes of non-zero data (no holes: every read hits cached pages).
fn make_file(path: &Path, len: u64) {
    let mut f = File::create(path).expect("create the bench file");
    let chunk: Vec<u8> = (0..1 << 20).map(|i| (i * 7 + 1) as u8).collect();
    for _ in 0..len / chunk.len() as u64 {
        f.write_all(&chunk).expect("write the bench file");
    }
    f.sync_all().expect("sync the bench file");
}

/// Reads the whole file so that it is in the page cache.
fn warm(path: &Path) {
    let f = File::open(path).expect("open the bench file");
    let mut buf = vec![0u8; 1 << 20];
    let mut off = 0;
    while let Ok(n) = f.read_at(&mut buf, off) {
        if n == 0 {
            break;
        }
        off += n as u64;
    }
}

/// One contestant's run; prints "reads/s CPU-µs-per-read".
fn child(name: &str, path: &Path, reads: usize) {
    let file = File::open(path).expect("open the bench file");
    let blocks = file.metadata().expect("stat").len() / BLOCK;
    let (cpu0, secs) = match name {
        "wf-uring" => wf(file, blocks, reads, wf::fileio::FileIoBackend::IoUring),
        "wf-pool" => wf(file, blocks, reads, wf::fileio::FileIoBackend::ThreadPool),
        "tokio-fs" => tokio_fs(file, blocks, reads),
        "raw-uring" => raw_uring(file, blocks, reads),
        other => panic!("unknown contestant {other}"),
    };
    let cpu = self_cpu().total - cpu0;
    println!("{:.0} {:.3}", reads as f64 / secs, cpu / reads as f64 * 1e6);
}

// ---------------------------------------------------------------- wf

struct WfRun {
    fd: i32,
    blocks: u64,
    issued: AtomicUsize,
    target: usize,
    failed: AtomicUsize,
    seed: AtomicU64,
}

fn wf_read(run: &'static WfRun, mut rng: Rng) -> wf::fileio::FileIoTask {
    let offset = rng.offset(run.blocks);
    wf::fileio::create_pread_task(run.fd, BLOCK as usize, offset, move |t| {
        if t.state() != wf::State::Success || t.retval() != BLOCK as isize {
            run.failed.fetch_add(1, Ordering::Relaxed);
        }
        if run.issued.fetch_add(1, Ordering::Relaxed) < run.target {
            wf::series_of(t).push_back(wf_read(run, rng));
        }
    })
}

/// Returns (CPU seconds at the start, wall seconds).
fn wf(file: File, blocks: u64, reads: usize, backend: wf::fileio::FileIoBackend) -> (f64, f64) {
    let mut f = wf::fileio::FileIoSettings::default();
    f.backend = backend;
    wf::fileio::init(f).expect("first file IO");
    let mut s = wf::Settings::default();
    if let Some(n) = std::env::var("WF_BENCH_POLLERS").ok().and_then(|v| v.parse().ok()) {
        s.poller_threads = n;
    }
    wf::init(s).expect("first use of wf");
    // Start the backend (and the runtime) before timing.
    let warmup = wf::fileio::create_pread_task(file.as_raw_fd(), BLOCK as usize, 0, |_| {});
    wf::start_series_work(warmup, |_| {});
    wf::wait_finish();
    let run: &'static WfRun = Box::leak(Box::new(WfRun {
        fd: file.as_raw_fd(),
        blocks,
        issued: AtomicUsize::new(INFLIGHT.min(reads)),
        target: reads,
        failed: AtomicUsize::new(0),
        seed: AtomicU64::new(1),
    }));
    let cpu0 = self_cpu().total;
    let t0 = Instant::now();
    for _ in 0..INFLIGHT.min(reads) {
        wf::start_series_work(wf_read(run, rng(&run.seed)), |_| {});
    }
    wf::wait_finish();
    let secs = t0.elapsed().as_secs_f64();
    assert_eq!(run.failed.load(Ordering::Relaxed), 0, "failed reads");
    drop(file);
    (cpu0, secs)
}

// ---------------------------------------------------------------- tokio::fs

fn tokio_fs(file: File, blocks: u64, reads: usize) -> (f64, f64) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let file = Arc::new(file);
    let left = Arc::new(AtomicUsize::new(reads));
    let seed = Arc::new(AtomicU64::new(1));
    let cpu0 = self_cpu().total;
    let t0 = Instant::now();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..INFLIGHT {
            let (file, left, mut rng) = (file.clone(), left.clone(), rng(&seed));
            tasks.push(tokio::spawn(async move {
                let mut buf = vec![0u8; BLOCK as usize];
                while left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_ok() {
                    let offset = rng.offset(blocks);
                    let file = file.clone();
                    let (n, b) =
                        tokio::task::spawn_blocking(move || (file.read_at(&mut buf, offset), buf)).await.expect("join");
                    assert_eq!(n.expect("read") as u64, BLOCK);
                    buf = b;
                }
            }));
        }
        for t in tasks {
            t.await.expect("join");
        }
    });
    (cpu0, t0.elapsed().as_secs_f64())
}

// ---------------------------------------------------------------- raw tokio-uring

fn raw_uring(file: File, blocks: u64, reads: usize) -> (f64, f64) {
    let rt = tokio_uring::Runtime::new(&tokio_uring::builder()).expect("io_uring");
    let seed = AtomicU64::new(1);
    let cpu0 = self_cpu().total;
    let t0 = Instant::now();
    rt.block_on(async {
        let file = std::rc::Rc::new(tokio_uring::fs::File::from_std(file));
        let left = std::rc::Rc::new(std::cell::Cell::new(reads));
        let mut tasks = Vec::new();
        for _ in 0..INFLIGHT {
            let (file, left, mut rng) = (file.clone(), left.clone(), rng(&seed));
            tasks.push(tokio_uring::spawn(async move {
                let mut buf = Vec::with_capacity(BLOCK as usize);
                while left.get() > 0 {
                    left.set(left.get() - 1);
                    buf.clear();
                    let (n, b) = file.read_at(buf, rng.offset(blocks)).await;
                    assert_eq!(n.expect("read") as u64, BLOCK);
                    buf = b;
                }
            }));
        }
        for t in tasks {
            t.await.expect("join");
        }
    });
    (cpu0, t0.elapsed().as_secs_f64())
}
