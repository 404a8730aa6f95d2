//! Wording helpers for error messages: quoted lists and "did you mean" suggestions.

/// `a`, `b`, `c` with backticks.
pub(crate) fn quote_list<S: AsRef<str>>(items: &[S]) -> String {
    items
        .iter()
        .map(|s| format!("`{}`", s.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// "; expected one of `a`, `b` (did you mean `b`?)" for an unknown `input`.
pub(crate) fn expected_one_of<S: AsRef<str>>(input: &str, candidates: &[S]) -> String {
    let mut out = match candidates {
        [] => String::new(),
        [only] => format!("; expected `{}`", only.as_ref()),
        _ => format!("; expected one of {}", quote_list(candidates)),
    };
    if let Some(close) = did_you_mean(input, candidates) {
        out.push_str(&format!(" (did you mean `{close}`?)"));
    }
    out
}

/// The candidate closest to `input`, if it is close enough to be a likely typo.
pub(crate) fn did_you_mean<'a, S: AsRef<str>>(input: &str, candidates: &'a [S]) -> Option<&'a str> {
    let input_len = input.chars().count();
    candidates
        .iter()
        .map(AsRef::as_ref)
        .filter(|c| *c != input)
        .map(|c| (edit_distance(input, c), c))
        .filter(|(d, c)| *d <= (input_len.max(c.chars().count()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Optimal string alignment distance: Levenshtein plus swaps of adjacent characters, so that
/// `tiemout` is one edit away from `timeout`.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_misses_only() {
        let keys = ["peer", "label", "text", "timeout"];
        assert_eq!(did_you_mean("tiemout", &keys), Some("timeout"));
        assert_eq!(did_you_mean("lable", &keys), Some("label"));
        assert_eq!(did_you_mean("peers", &keys), Some("peer"));
        assert_eq!(did_you_mean("carol", &["alice", "bob"]), None);
        assert_eq!(did_you_mean("x", &keys), None);
        assert_eq!(
            did_you_mean("conected", &["connecting", "connected"]),
            Some("connected")
        );
    }

    #[test]
    fn expected_lists_read_naturally() {
        assert_eq!(
            expected_one_of("tiemout", &["peer", "timeout"]),
            "; expected one of `peer`, `timeout` (did you mean `timeout`?)"
        );
        assert_eq!(expected_one_of("zzz", &["peer"]), "; expected `peer`");
        assert_eq!(expected_one_of("zzz", &[] as &[&str]), "");
    }
}
