//! Where output goes: machine output on stdout, diagnostics on stderr, colors
//! only when allowed.

use std::io::Write;

use crate::error::{Error, Result};

/// The streams a command writes to.
pub struct Output {
    color: bool,
}

impl Output {
    /// Output with colors on stderr when `color` is set.
    pub fn new(color: bool) -> Self {
        Output { color }
    }

    /// Writes machine output to stdout. A closed pipe (`impact who x | head`)
    /// is not an error.
    pub fn stdout(&self, text: &str) -> Result<()> {
        let mut out = std::io::stdout().lock();
        match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            Err(source) => Err(Error::Write {
                path: "standard output".into(),
                source,
            }),
        }
    }

    /// Writes a JSON value and a newline to stdout.
    pub fn json<T: serde::Serialize>(&self, value: &T) -> Result<()> {
        let text = serde_json::to_string_pretty(value).map_err(|e| Error::Write {
            path: "standard output".into(),
            source: std::io::Error::other(e),
        })?;
        self.stdout(&format!("{text}\n"))
    }

    /// An informational line on stderr, prefixed `impact: `.
    pub fn note(&self, text: &str) {
        eprintln!("{} {text}", self.paint("impact:", "1"));
    }

    /// A warning on stderr.
    pub fn warn(&self, text: &str) {
        eprintln!("{} {text}", self.paint("warning:", "1;33"));
    }

    /// Wraps `text` in an ANSI style when colors are on.
    pub fn paint(&self, text: &str, style: &str) -> String {
        if self.color {
            format!("\x1b[{style}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// Formats a count with thousands separators: 2311 -> "2,311".
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Formats sorted line numbers compactly: `[1,2,3,7]` -> "1-3, 7".
pub fn line_ranges(lines: &[u32]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let start = lines[i];
        let mut end = start;
        while i + 1 < lines.len() && lines[i + 1] == end + 1 {
            i += 1;
            end = lines[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_counts_and_ranges() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(2311), "2,311");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(line_ranges(&[]), "");
        assert_eq!(line_ranges(&[1, 2, 3, 7, 9, 10]), "1-3, 7, 9-10");
    }
}
