//! Text normalisation shared by the checker and the NLU: lower case, accents
//! removed, punctuation turned into spaces, runs of spaces collapsed.

use unicode_normalization::UnicodeNormalization;

/// Normalises text for comparison ("¿Cuánto   TENGO?" → "cuanto tengo").
#[must_use]
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    normalize_into(text, &mut out);
    out
}

/// [`normalize`], appended to a buffer (which a caller reuses between
/// texts).
pub fn normalize_into(text: &str, out: &mut String) {
    if text.is_ascii() {
        // Most messages: no accents to take apart.
        fold_into(text.chars(), out);
    } else {
        fold_into(
            text.nfd()
                .filter(|&c| !unicode_normalization::char::is_combining_mark(c)),
            out,
        );
    }
}

/// Appends the characters lower-cased, with every run of what is not a
/// letter or digit turned into one space, and none at either end.
fn fold_into(chars: impl Iterator<Item = char>, out: &mut String) {
    let start = out.len();
    let mut space = true;
    for c in chars {
        if c.is_alphanumeric() {
            if c.is_ascii() {
                out.push(c.to_ascii_lowercase());
            } else {
                out.extend(c.to_lowercase());
            }
            space = false;
        } else if !space {
            out.push(' ');
            space = true;
        }
    }
    if out.len() > start && out.ends_with(' ') {
        out.pop();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn folds_case_accents_and_punctuation() {
        assert_eq!(
            super::normalize("¿Cuánto   TENGO en mi cuenta?"),
            "cuanto tengo en mi cuenta"
        );
        assert_eq!(super::normalize("  "), "");
    }

    #[test]
    fn ascii_text_is_normalised_as_any_other() {
        // ASCII text takes a shorter path; it must end where the general
        // one does.
        assert_eq!(super::normalize("Hello, World!"), "hello world");
        assert_eq!(super::normalize("Hello, Wörld!"), "hello world");
        assert_eq!(super::normalize("  a--b  "), "a b");
        assert_eq!(super::normalize("ABC123 xyz?"), "abc123 xyz");
        assert_eq!(super::normalize("\t\n~"), "");
    }
}
