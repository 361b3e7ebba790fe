//! Language of a text for full-text search: Spanish or English by counting their most common
//! function words (no model needed for two languages), `simple` when neither is clear.

/// A language with a Postgres text-search configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Es,
    /// Neither: no stemming, no stop words.
    Simple,
}

impl Lang {
    /// The code stored with documents: "en", "es" or "simple".
    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Es => "es",
            Self::Simple => "simple",
        }
    }

    /// The Postgres text-search configuration.
    pub fn ts_config(self) -> &'static str {
        match self {
            Self::En => "english",
            Self::Es => "spanish",
            Self::Simple => "simple",
        }
    }

    /// `auto`, `en` or `es` as given on the command line (`auto` is `None`).
    pub fn parse(text: &str) -> Result<Option<Self>, String> {
        match text {
            "auto" => Ok(None),
            "en" => Ok(Some(Self::En)),
            "es" => Ok(Some(Self::Es)),
            other => Err(format!("{other:?} is not a language: use auto, es or en")),
        }
    }
}

const ENGLISH: [&str; 24] = [
    "the", "and", "of", "to", "is", "in", "that", "it", "for", "with", "on", "are", "this", "be",
    "as", "was", "by", "not", "or", "from", "have", "if", "when", "which",
];
const SPANISH: [&str; 24] = [
    "el", "la", "de", "que", "y", "en", "los", "las", "del", "se", "por", "con", "para", "una",
    "es", "no", "un", "al", "lo", "como", "más", "si", "cuando", "está",
];

/// Detects Spanish or English; `Simple` when the text has too few function words to tell or
/// the two are close.
pub fn detect(text: &str) -> Lang {
    let (mut en, mut es) = (0usize, 0usize);
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(5_000)
    {
        let word = word.to_lowercase();
        en += usize::from(ENGLISH.contains(&word.as_str()));
        es += usize::from(SPANISH.contains(&word.as_str()));
    }
    // Accents and ñ are strong hints of Spanish even in short texts.
    es += text
        .chars()
        .filter(|c| "ñáéíóú¿¡".contains(*c))
        .count()
        .min(5);
    if en + es < 3 {
        Lang::Simple
    } else if es * 2 > en * 3 {
        Lang::Es
    } else if en * 2 > es * 3 {
        Lang::En
    } else {
        Lang::Simple
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_spanish_english_and_neither() {
        assert_eq!(
            detect("Cuando la tabla de pedidos no se actualiza, revisa el job de carga."),
            Lang::Es
        );
        assert_eq!(
            detect("When the orders table is not refreshed, check the load job first."),
            Lang::En
        );
        assert_eq!(detect("SELECT count(*) FROM gold.orders"), Lang::Simple);
        assert_eq!(
            Lang::parse("fr"),
            Err("\"fr\" is not a language: use auto, es or en".into())
        );
    }
}
