//! DNS names as text: the labels a text name stands for, and comparing
//! two names as the wire does. Used by the message model and the codec
//! alike (kept apart from both so that neither reaches the other for it).

use std::io;

/// The largest name on the wire, length bytes included.
pub(crate) const MAX_NAME: usize = 255;

fn invalid(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what)
}

/// A text name as labels (escapes undone). The root is `""` or `"."`.
pub(crate) fn labels(name: &str) -> io::Result<Vec<Vec<u8>>> {
    let name = name.strip_suffix('.').filter(|n| !n.ends_with('\\')).unwrap_or(name);
    if name.is_empty() {
        return Ok(Vec::new());
    }
    let mut labels = vec![Vec::new()];
    let mut wire = 1;
    let b = name.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        i += 1;
        let byte = match c {
            b'.' => {
                if labels.last().is_some_and(Vec::is_empty) {
                    return Err(invalid(format!("empty label in DNS name {name:?}")));
                }
                labels.push(Vec::new());
                wire += 1;
                continue;
            }
            b'\\' => match b.get(i..i + 3).and_then(|d| std::str::from_utf8(d).ok()).and_then(|d| d.parse::<u8>().ok())
            {
                Some(v) if b[i].is_ascii_digit() => {
                    i += 3;
                    v
                }
                _ => {
                    let v = *b.get(i).ok_or_else(|| invalid(format!("bad escape in DNS name {name:?}")))?;
                    i += 1;
                    v
                }
            },
            c => c,
        };
        let label = labels.last_mut().expect("one label at least");
        label.push(byte);
        wire += 1;
        if label.len() > 63 {
            return Err(invalid(format!("label longer than 63 bytes in DNS name {name:?}")));
        }
    }
    if labels.last().is_some_and(Vec::is_empty) {
        return Err(invalid(format!("empty label in DNS name {name:?}")));
    }
    if wire + 1 > MAX_NAME {
        return Err(invalid(format!("DNS name longer than 255 bytes: {name:?}")));
    }
    Ok(labels)
}

/// Whether two text names are the same name on the wire (escapes
/// undone, ASCII case ignored). Names that cannot be written are compared
/// as text.
pub(crate) fn same_name(a: &str, b: &str) -> bool {
    match (labels(a), labels(b)) {
        (Ok(a), Ok(b)) => a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| x.eq_ignore_ascii_case(y)),
        _ => a.eq_ignore_ascii_case(b),
    }
}

/// Whether `name` can be written as a DNS name.
pub(crate) fn is_valid_name(name: &str) -> bool {
    labels(name).is_ok()
}
