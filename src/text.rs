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
    let start = out.len();
    let mut space = true;
    if text.is_ascii() {
        // Most messages: no accents to take apart, one byte a character.
        for &b in text.as_bytes() {
            if b.is_ascii_alphanumeric() {
                out.push(char::from(b.to_ascii_lowercase()));
                space = false;
            } else if !space {
                out.push(' ');
                space = true;
            }
        }
        if out.len() > start && out.ends_with(' ') {
            out.pop();
        }
        return;
    }
    for c in text.nfd() {
        if unicode_normalization::char::is_combining_mark(c) {
            continue;
        }
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
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
