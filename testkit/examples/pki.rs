//! Writes a new private CA and a server certificate it signed for
//! `localhost` and `127.0.0.1` ([`testkit::Pki`]) as PEM files into a
//! directory (made if missing): `ca.pem`, `cert.pem` and `key.pem` (the key readable by its
//! owner only). `cargo xtask pytest` runs it for the pywf suite's TLS
//! tests:
//!
//! ```sh
//! cargo run -p testkit --example pki -- DIR
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: pki DIR (writes DIR/ca.pem, DIR/cert.pem, DIR/key.pem)");
        return ExitCode::FAILURE;
    };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("pki: {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    let pki = testkit::Pki::new("wf test CA");
    let files = [("ca.pem", &pki.ca_pem, 0o644), ("cert.pem", &pki.cert_pem, 0o644), ("key.pem", &pki.key_pem, 0o600)];
    for (name, pem, mode) in files {
        let path = dir.join(name);
        if let Err(e) = write(&path, pem, mode) {
            eprintln!("pki: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// Writes `text` to a new `path` (an old one is replaced) with `mode`.
fn write(path: &std::path::Path, text: &str, mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(path)?;
    f.write_all(text.as_bytes())
}
