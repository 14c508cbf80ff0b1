//! Which commands may not share a connection.

/// Commands that may not share a connection: they block it, or change
/// its state for the commands after them.
const EXCLUSIVE: &[&str] = &[
    "BLPOP",
    "BRPOP",
    "BRPOPLPUSH",
    "BLMOVE",
    "BLMPOP",
    "BZPOPMIN",
    "BZPOPMAX",
    "BZMPOP",
    "XREAD",
    "XREADGROUP",
    "WAIT",
    "WAITAOF",
    "MULTI",
    "EXEC",
    "DISCARD",
    "WATCH",
    "UNWATCH",
    "CLIENT",
    "QUIT",
    "READONLY",
    "READWRITE",
    "RESET",
];

/// Whether command `name` may not share a connection (see [`EXCLUSIVE`]).
pub(crate) fn is_exclusive(name: &[u8]) -> bool {
    // Most commands are not: rule them out by length and first letter.
    (4..=10).contains(&name.len())
        && matches!(name[0].to_ascii_uppercase(), b'B' | b'X' | b'W' | b'M' | b'E' | b'D' | b'U' | b'C' | b'Q' | b'R')
        && EXCLUSIVE.iter().any(|x| x.len() == name.len() && x.as_bytes().eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusive_names() {
        assert!(is_exclusive(b"blpop"));
        assert!(is_exclusive(b"MULTI"));
        assert!(!is_exclusive(b"GET"));
        assert!(!is_exclusive(b"GETX_LONG_NAME_OVER_16"));
    }
}
