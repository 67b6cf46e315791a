//! The lexers over Python text that need no syntax tree: words outside
//! strings and comments, the tokens inside string literals (what a test
//! file names or opens), and code with its comments stripped (to tell a
//! comment-only change). They work line by line on any text, never panic
//! (property tests in `select/fuzz.rs`), and back both the test-side index of
//! selection and the tokens a recording stores for measured files.

pub fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

pub fn is_token_byte(b: u8) -> bool {
    is_ident_byte(b) || matches!(b, b'.' | b'/' | b'-')
}

/// The tokens inside string literals of a Python text, as stored by the
/// recording ("line\ttoken" lines; see migration 8).
pub fn stored_quoted_tokens(text: &str) -> String {
    let mut out = String::new();
    scan(text, true, |token, line| {
        out.push_str(&line.to_string());
        out.push('\t');
        out.push_str(token);
        out.push('\n');
    });
    out
}

pub fn parse_stored(tokens: &str) -> impl Iterator<Item = (u32, &str)> {
    tokens.lines().filter_map(|l| {
        let (line, token) = l.split_once('\t')?;
        Some((line.parse().ok()?, token))
    })
}

/// Each word of `text` (as [`scan`] finds them outside string literals)
/// with the lines it is on, ascending: what is stored per test-side content
/// for finding mentions of a name (migration 13).
pub fn word_index(text: &str) -> std::collections::BTreeMap<String, Vec<u32>> {
    let mut out: std::collections::BTreeMap<String, Vec<u32>> = std::collections::BTreeMap::new();
    scan(text, false, |word, line| match out.get_mut(word) {
        Some(lines) => {
            if lines.last() != Some(&line) {
                lines.push(line);
            }
        }
        None => {
            out.insert(word.to_string(), vec![line]);
        }
    });
    out
}

/// Calls `found(token, line)` for every word outside strings and comments
/// (`quoted == false`), or every token inside a string literal (`quoted`;
/// a path-like token also by its last component). Triple-quoted strings
/// (docstrings) are prose and skipped.
pub fn scan(text: &str, quoted: bool, mut found: impl FnMut(&str, u32)) {
    for (li, line) in text.lines().enumerate() {
        if quoted && !line.contains(['"', '\'']) {
            continue;
        }
        let at = li as u32 + 1;
        let bytes = line.as_bytes();
        let mut i = 0;
        let mut in_quote: Option<u8> = None;
        while i < bytes.len() {
            let b = bytes[i];
            if b == b'#' && in_quote.is_none() {
                break;
            }
            if (b == b'"' || b == b'\'') && in_quote.is_none() && bytes[i..].starts_with(&[b, b, b])
            {
                // A triple-quoted string (a docstring): prose, not a
                // module run or a file opened; skip it on this line.
                let rest = &bytes[i + 3..];
                match rest.windows(3).position(|w| w == [b, b, b]) {
                    Some(p) => i += 3 + p + 3,
                    None => break,
                }
                continue;
            }
            if b == b'"' || b == b'\'' {
                in_quote = match in_quote {
                    Some(q) if q == b => None,
                    None => Some(b),
                    other => other,
                };
                i += 1;
                continue;
            }
            let token_end = |pred: fn(u8) -> bool| {
                let mut j = i;
                while j < bytes.len() && pred(bytes[j]) {
                    j += 1;
                }
                j
            };
            // Bytes, not `line[i..]`: `i` may sit inside a multi-byte
            // character (it steps over non-ASCII bytes one at a time).
            if quoted && in_quote.is_none() && !bytes[i..].iter().any(|&c| c == b'"' || c == b'\'')
            {
                break; // no string literal left on this line
            }
            if in_quote.is_some() && is_token_byte(b) {
                let j = token_end(is_token_byte);
                let token = line[i..j].trim_end_matches(['.', '-', '/']);
                if quoted {
                    found(token, at);
                    if let Some((_, last)) = token.rsplit_once('/') {
                        found(last, at);
                    }
                }
                i = j;
            } else if in_quote.is_none()
                && is_ident_byte(b)
                && (i == 0 || !is_ident_byte(bytes[i - 1]))
            {
                let j = token_end(is_ident_byte);
                if !quoted {
                    found(&line[i..j], at);
                }
                i = j;
            } else {
                i += 1;
            }
        }
    }
}

/// Lines (1-based) where `needle` occurs as a whole word: not preceded or
/// followed by an identifier character or a dot-joined continuation.
pub fn word_lines(text: &str, needle: &str) -> Vec<u32> {
    if needle.is_empty() {
        return Vec::new();
    }
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let bytes = line.as_bytes();
        let mut from = 0;
        while let Some(pos) = line[from..].find(needle) {
            let s = from + pos;
            let e = s + needle.len();
            let before_ok = s == 0 || !is_ident(bytes[s - 1]);
            let after_ok = e >= bytes.len() || !is_ident(bytes[e]);
            if before_ok && after_ok {
                lines.push(i as u32 + 1);
                break;
            }
            from = s + 1;
            while from < line.len() && !line.is_char_boundary(from) {
                from += 1;
            }
        }
    }
    lines
}

#[cfg(test)]
/// Lines where `needle` occurs inside a string literal (an odd number of
/// quotes before it on the line).
pub fn quoted_lines(text: &str, needle: &str) -> Vec<u32> {
    let mut lines = Vec::new();
    if needle.is_empty() {
        return lines;
    }
    for (i, line) in text.lines().enumerate() {
        let mut from = 0;
        while let Some(pos) = line[from..].find(needle) {
            let s = from + pos;
            let before = &line[..s];
            let quotes = before.matches('"').count() + before.matches('\'').count();
            if quotes % 2 == 1 {
                lines.push(i as u32 + 1);
                break;
            }
            from = s + needle.len();
        }
    }
    lines
}

/// Python source with comments and trailing whitespace removed, line by line
/// (line numbers are kept). Strings, including triple-quoted ones spanning
/// lines, are left alone.
pub fn strip_comments(src: &[u8]) -> Vec<u8> {
    // Works on bytes: source may be any encoding, and every delimiter is
    // ASCII. Jumps (memchr) to the next byte that can change the state: a
    // 6,000-line module is stripped twice per changed file.
    const TRIPLE_DOUBLE: &[u8] = b"\"\"\"";
    const TRIPLE_SINGLE: &[u8] = b"'''";
    let mut out = Vec::with_capacity(src.len());
    let mut quote: Option<&[u8]> = None; // the open string's delimiter
    for line in src.split_inclusive(|&b| b == b'\n') {
        let (body, eol): (&[u8], &[u8]) = match line.strip_suffix(b"\n") {
            Some(b) => (b, b"\n"),
            None => (line, b""),
        };
        let mut i = 0;
        let mut cut = body.len();
        while i < body.len() {
            match quote {
                Some(q) => match memchr::memchr2(b'\\', q[0], &body[i..]) {
                    None => i = body.len(),
                    Some(at) => {
                        i += at;
                        if body[i] == b'\\' {
                            i += 2;
                        } else if body[i..].starts_with(q) {
                            i += q.len();
                            quote = None;
                        } else {
                            i += 1;
                        }
                    }
                },
                None => match memchr::memchr3(b'#', b'"', b'\'', &body[i..]) {
                    None => i = body.len(),
                    Some(at) => {
                        i += at;
                        let c = body[i];
                        if c == b'#' {
                            cut = i;
                            break;
                        }
                        let triple = if c == b'"' {
                            TRIPLE_DOUBLE
                        } else {
                            TRIPLE_SINGLE
                        };
                        if body[i..].starts_with(triple) {
                            quote = Some(triple);
                            i += 3;
                        } else {
                            quote = Some(if c == b'"' { b"\"" } else { b"'" });
                            i += 1;
                        }
                    }
                },
            }
        }
        // A single-quoted string ends with its line, barring a backslash
        // continuation.
        if quote.is_some_and(|q| q.len() == 1) && !body.ends_with(b"\\") {
            quote = None;
        }
        let kept = &body[..cut];
        let end = kept
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .map_or(0, |p| p + 1);
        out.extend_from_slice(&kept[..end]);
        out.extend_from_slice(eol);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_whole_words_only() {
        let text = "rate = 1\ngenerate()\nx.rate\nrates\n# rate here\n";
        assert_eq!(word_lines(text, "rate"), vec![1, 3, 5]);
        assert_eq!(word_lines("python -m shop.cli x", "shop.cli"), vec![1]);
        assert_eq!(word_lines("shop.client", "shop.cli"), Vec::<u32>::new());
        assert_eq!(
            quoted_lines(
                "run([sys.executable, \"-m\", \"shop.cli\"])\nfrom shop.cli import x\n",
                "shop.cli"
            ),
            vec![1]
        );
        assert_eq!(
            quoted_lines("open(DATA / 'users.json')\n", "users.json"),
            vec![1]
        );
    }
}
