//! Reading files to index: Markdown, plain text and HTML (converted to Markdown-like text with
//! its headings), with a title and sections by heading. Empty, binary, non-UTF-8, oversized and
//! unsupported files are refused with a reason, never half-read.

use std::path::Path;

/// A readable document, before chunking.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceDoc {
    /// The path as given (what citations show).
    pub source: String,
    pub title: String,
    /// Sections in order: heading path ("Runbook > Freshness") and their text.
    pub sections: Vec<Section>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub heading_path: String,
    pub text: String,
}

impl SourceDoc {
    /// All text, for hashing and language detection.
    pub fn full_text(&self) -> String {
        let mut out = self.title.clone();
        for s in &self.sections {
            out.push('\n');
            out.push_str(&s.heading_path);
            out.push('\n');
            out.push_str(&s.text);
        }
        out
    }
}

/// Why a file is not indexed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: cannot read: {reason}")]
    Io { path: String, reason: String },
    #[error("{path}: empty file (nothing to index)")]
    Empty { path: String },
    #[error("{path}: binary file (NUL bytes); only Markdown, text and HTML are indexed")]
    Binary { path: String },
    #[error("{path}: not valid UTF-8 at byte {offset}; convert it to UTF-8 first")]
    InvalidUtf8 { path: String, offset: usize },
    #[error("{path}: {bytes} bytes is over the {max}-byte limit; split the file")]
    TooLarge { path: String, bytes: u64, max: u64 },
    #[error(
        "{path}: unsupported format {extension:?}; indexed formats: .md, .markdown, .txt, .html, \
         .htm (PDF is not supported: no well-kept pure-Rust extractor is available here)"
    )]
    Unsupported { path: String, extension: String },
}

/// Largest file indexed by default.
pub const DEFAULT_MAX_BYTES: u64 = 2 * 1024 * 1024;

/// Reads and parses one file.
pub fn load(path: &Path, max_bytes: u64) -> Result<SourceDoc, LoadError> {
    let source = path.display().to_string();
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let format = match extension.as_str() {
        "md" | "markdown" => Format::Markdown,
        "txt" | "text" => Format::Text,
        "html" | "htm" => Format::Html,
        _ => {
            return Err(LoadError::Unsupported {
                path: source,
                extension,
            });
        }
    };
    let io = |e: std::io::Error| LoadError::Io {
        path: source.clone(),
        reason: e.to_string(),
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > max_bytes {
        return Err(LoadError::TooLarge {
            path: source,
            bytes: size,
            max: max_bytes,
        });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| source.clone());
    parse(&source, &stem, &bytes, format)
}

/// How a file's text is structured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Text,
    Html,
}

/// Parses bytes already read (`stem` is the title when the text has none).
pub fn parse(
    source: &str,
    stem: &str,
    bytes: &[u8],
    format: Format,
) -> Result<SourceDoc, LoadError> {
    if bytes.iter().take(8192).any(|b| *b == 0) {
        return Err(LoadError::Binary {
            path: source.into(),
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| LoadError::InvalidUtf8 {
        path: source.into(),
        offset: e.valid_up_to(),
    })?;
    let text = text.trim_start_matches('\u{feff}');
    let markdown = match format {
        Format::Markdown => text.to_string(),
        Format::Text => text.to_string(),
        Format::Html => html_to_markdown(text),
    };
    if markdown.trim().is_empty() {
        return Err(LoadError::Empty {
            path: source.into(),
        });
    }
    let sections = match format {
        Format::Text => vec![Section {
            heading_path: String::new(),
            text: markdown.trim().to_string(),
        }],
        Format::Markdown | Format::Html => sections(&markdown),
    };
    let title = sections
        .iter()
        .find_map(|s| s.heading_path.split(" > ").next().filter(|h| !h.is_empty()))
        .map(str::to_string)
        .unwrap_or_else(|| stem.to_string());
    Ok(SourceDoc {
        source: source.into(),
        title,
        sections: sections
            .into_iter()
            .filter(|s| !s.text.trim().is_empty())
            .collect(),
    })
}

/// Splits Markdown at ATX headings (outside code fences), keeping the path of headings above
/// each section.
fn sections(markdown: &str) -> Vec<Section> {
    let mut out = Vec::new();
    let mut path: Vec<(usize, String)> = Vec::new();
    let mut current = String::new();
    let mut in_fence = false;
    let flush = |path: &[(usize, String)], current: &mut String, out: &mut Vec<Section>| {
        if !current.trim().is_empty() {
            out.push(Section {
                heading_path: path
                    .iter()
                    .map(|(_, h)| h.as_str())
                    .collect::<Vec<_>>()
                    .join(" > "),
                text: current.trim().to_string(),
            });
        }
        current.clear();
    };
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
        }
        let level = trimmed.chars().take_while(|c| *c == '#').count();
        let is_heading = !in_fence && (1..=6).contains(&level) && trimmed[level..].starts_with(' ');
        if is_heading {
            flush(&path, &mut current, &mut out);
            let heading = trimmed[level..]
                .trim()
                .trim_end_matches('#')
                .trim()
                .to_string();
            path.retain(|(l, _)| *l < level);
            path.push((level, heading));
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    flush(&path, &mut current, &mut out);
    out
}

/// HTML to Markdown-like text: headings become `#` lines, block elements new lines, script and
/// style dropped, tags removed, the common entities decoded.
pub fn html_to_markdown(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    let mut title: Option<String> = None;
    while let Some(start) = rest.find('<') {
        out.push_str(&decode_entities(&rest[..start]));
        let after = &rest[start + 1..];
        let Some(end) = after.find('>') else {
            rest = "";
            break;
        };
        let tag = after[..end].trim();
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        let closing = tag.starts_with('/');
        rest = &after[end + 1..];
        match name.as_str() {
            "script" | "style" | "head" if !closing => {
                let close = format!("</{name}");
                let lower = rest.to_ascii_lowercase();
                let skip = lower.find(&close).unwrap_or(rest.len());
                if name == "head" {
                    let head = &rest[..skip];
                    let head_lower = head.to_ascii_lowercase();
                    if let (Some(a), Some(b)) =
                        (head_lower.find("<title>"), head_lower.find("</title>"))
                        && a + 7 <= b
                    {
                        title = Some(decode_entities(head[a + 7..b].trim()));
                    }
                }
                rest = &rest[skip..];
                if let Some(gt) = rest.find('>') {
                    rest = &rest[gt + 1..];
                }
            }
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" if !closing => {
                let level = name[1..].parse::<usize>().unwrap_or(1);
                out.push_str(&format!("\n\n{} ", "#".repeat(level)));
            }
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "p" | "div" | "section" | "article"
            | "table" | "tr" | "ul" | "ol" | "pre" | "blockquote" => out.push_str("\n\n"),
            "br" => out.push('\n'),
            "li" if !closing => out.push_str("\n- "),
            "td" | "th" => out.push(' '),
            _ => {}
        }
    }
    out.push_str(&decode_entities(rest));
    let body: String = out
        .lines()
        .map(|l| {
            if l.trim_start().starts_with('#') {
                l.trim().to_string()
            } else {
                l.split_whitespace().collect::<Vec<_>>().join(" ")
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    match title {
        Some(title) if !body.contains(&format!("# {title}")) && !title.is_empty() => {
            format!("# {title}\n\n{body}")
        }
        _ => body,
    }
}

fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let end = tail.find(';').filter(|e| *e <= 10);
        let decoded = end.and_then(|e| {
            let entity = &tail[1..e];
            let c = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" | "#39" => Some('\''),
                "nbsp" => Some(' '),
                _ => entity
                    .strip_prefix("#x")
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            }?;
            Some((c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &tail[e + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn markdown_sections_keep_their_heading_path() {
        let doc = parse(
            "rb.md",
            "rb",
            b"# Orders runbook\nintro\n## Freshness\nfresh text\n```\n# not a heading\n```\n### Lag\nlag text\n## Volume\nvol",
            Format::Markdown,
        )
        .unwrap();
        assert_eq!(doc.title, "Orders runbook");
        let paths: Vec<(&str, &str)> = doc
            .sections
            .iter()
            .map(|s| (s.heading_path.as_str(), s.text.as_str()))
            .collect();
        assert_eq!(
            paths,
            vec![
                ("Orders runbook", "intro"),
                (
                    "Orders runbook > Freshness",
                    "fresh text\n```\n# not a heading\n```"
                ),
                ("Orders runbook > Freshness > Lag", "lag text"),
                ("Orders runbook > Volume", "vol"),
            ]
        );
    }

    #[test]
    fn html_becomes_headed_text() {
        let doc = parse(
            "p.html",
            "p",
            b"<html><head><title>Postmortem 12</title><style>p{}</style></head><body><h1>Postmortem 12</h1><p>Orders &amp; payments<br>stopped.</p><script>x()</script><h2>Cause</h2><ul><li>a</li><li>b &#233;</li></ul></body></html>",
            Format::Html,
        )
        .unwrap();
        assert_eq!(doc.title, "Postmortem 12");
        assert_eq!(doc.sections[0].text, "Orders & payments\nstopped.");
        assert_eq!(doc.sections[1].heading_path, "Postmortem 12 > Cause");
        assert_eq!(doc.sections[1].text, "- a\n- b é");
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        assert_eq!(
            parse("e.md", "e", b"  \n", Format::Markdown),
            Err(LoadError::Empty {
                path: "e.md".into()
            })
        );
        assert_eq!(
            parse("b.txt", "b", b"ab\0cd", Format::Text),
            Err(LoadError::Binary {
                path: "b.txt".into()
            })
        );
        assert_eq!(
            parse("u.txt", "u", b"ok \xff bad", Format::Text),
            Err(LoadError::InvalidUtf8 {
                path: "u.txt".into(),
                offset: 3
            })
        );
        let dir = tempfile::tempdir().unwrap();
        let pdf = dir.path().join("x.pdf");
        std::fs::write(&pdf, b"%PDF").unwrap();
        assert!(
            matches!(load(&pdf, 100), Err(LoadError::Unsupported { extension, .. }) if extension == "pdf")
        );
        let big = dir.path().join("big.md");
        std::fs::write(&big, vec![b'a'; 200]).unwrap();
        assert_eq!(
            load(&big, 100).unwrap_err().to_string(),
            format!(
                "{}: 200 bytes is over the 100-byte limit; split the file",
                big.display()
            )
        );
    }
}
