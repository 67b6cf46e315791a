//! Mapping between repo-relative file paths and dotted Python module names.
//! Purely textual: which candidate is importable depends on `sys.path`,
//! which we cannot know, so callers get every plausible candidate.

/// The directory part of a path ("" at the root).
pub fn dir_of(path: &str) -> String {
    path.rsplit_once('/')
        .map(|(d, _)| d.to_string())
        .unwrap_or_default()
}

/// Candidate dotted module names for a repo-relative path, longest first:
/// "src/shop/pricing.py" -> ["src.shop.pricing", "shop.pricing", "pricing"];
/// "shop/__init__.py" -> ["shop"]. Non-`.py` paths give nothing. Suffixes
/// containing a component that is not an identifier are skipped, since no
/// import statement could name them.
pub fn module_names_for_path(path: &str) -> Vec<String> {
    let Some(parts) = module_parts(path) else {
        return Vec::new();
    };
    // Only suffixes made entirely of identifiers are importable.
    let valid_from = parts
        .iter()
        .rposition(|p| !is_identifier(p))
        .map_or(0, |i| i + 1);
    (valid_from..parts.len())
        .map(|i| parts[i..].join("."))
        .collect()
}

/// Resolves a relative module ("." / ".config" / "..pkg.mod") imported from
/// `importing_path` to an absolute dotted candidate: "shop/pricing.py" +
/// ".config" -> "shop.config". The package path is the longest identifier
/// suffix of the file's directory, matching [`module_names_for_path`]'s
/// longest candidate. `None` when the dots climb above the repository root
/// or nothing would remain. An absolute module is returned unchanged.
pub fn resolve_relative(importing_path: &str, module: &str) -> Option<String> {
    let module = module.trim();
    let dots = module.bytes().take_while(|&b| b == b'.').count();
    if dots == 0 {
        return (!module.is_empty()).then(|| module.to_string());
    }
    let rest = &module[dots..];
    let path = importing_path.replace('\\', "/");
    let mut dirs: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    dirs.pop(); // the file itself; for __init__.py its dir is the package
    let valid_from = dirs
        .iter()
        .rposition(|p| !is_identifier(p))
        .map_or(0, |i| i + 1);
    let mut package: Vec<&str> = dirs[valid_from..].to_vec();
    let up = dots - 1;
    if up > package.len() {
        return None;
    }
    package.truncate(package.len() - up);
    let mut parts: Vec<&str> = package;
    parts.extend(rest.split('.').map(str::trim).filter(|p| !p.is_empty()));
    (!parts.is_empty()).then(|| parts.join("."))
}

/// Path components of a module ("__init__" dropped), or None for non-.py.
fn module_parts(path: &str) -> Option<Vec<String>> {
    let path = path.replace('\\', "/");
    let stem = path.strip_suffix(".py")?;
    let mut parts: Vec<String> = stem
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .map(str::to_string)
        .collect();
    if parts.last().is_some_and(|p| p == "__init__") {
        parts.pop();
    }
    Some(parts)
}

/// Python identifier check (Unicode letters allowed, no keyword check).
pub(super) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c == '_' || c.is_alphabetic() => {}
        _ => return false,
    }
    chars.all(|c| c == '_' || c.is_alphanumeric())
}
