//! Articles and the Markdown folder import.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::analyzer::{is_han_char, to_simplified};
use crate::Error;

/// Language of an article.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Lang {
    /// Simplified Chinese.
    #[serde(rename = "zh-CN")]
    ZhCn,
    /// Traditional Chinese.
    #[serde(rename = "zh-TW")]
    ZhTw,
    /// English.
    #[serde(rename = "en")]
    En,
}

impl Lang {
    /// The tag used in front matter and in the index.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::ZhCn => "zh-CN",
            Lang::ZhTw => "zh-TW",
            Lang::En => "en",
        }
    }

    /// Parses a front-matter tag (case-insensitive; `zh-Hans`/`zh-Hant` accepted).
    pub fn parse(tag: &str) -> Option<Lang> {
        match tag.trim().to_ascii_lowercase().as_str() {
            "zh-cn" | "zh-hans" | "zh" => Some(Lang::ZhCn),
            "zh-tw" | "zh-hk" | "zh-hant" => Some(Lang::ZhTw),
            "en" | "en-us" | "en-gb" => Some(Lang::En),
            _ => None,
        }
    }

    /// Guesses the language from text: no Han characters → English; Han text that changes
    /// under traditional → simplified conversion → traditional.
    pub fn detect(text: &str) -> Lang {
        let han: String = text
            .chars()
            .filter(|c| is_han_char(*c))
            .take(2000)
            .collect();
        if han.is_empty() {
            Lang::En
        } else if to_simplified(&han) != han {
            Lang::ZhTw
        } else {
            Lang::ZhCn
        }
    }
}

/// One knowledge-base article.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Article {
    /// Stable id (the file stem on import).
    pub id: String,
    /// Title as written.
    pub title: String,
    /// Body as written (Markdown).
    pub body: String,
    /// Tags from front matter.
    pub tags: Vec<String>,
    /// Language (from front matter, or detected).
    pub lang: Lang,
}

/// A file that was skipped on import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedFile {
    /// File name (not the full path).
    pub file: String,
    /// Why it was skipped.
    pub reason: String,
}

/// Outcome of importing a folder.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    /// Ids of the articles imported, in file-name order.
    pub imported: Vec<String>,
    /// Files that were skipped, with the reason.
    pub skipped: Vec<SkippedFile>,
}

/// Why a Markdown text is not a valid article.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Front matter opened with `---` but never closed.
    #[error("front matter is not closed with ---")]
    UnclosedFrontMatter,
    /// Unknown `lang:` value.
    #[error("unknown lang `{0}` (expected zh-CN, zh-TW or en)")]
    BadLang(String),
    /// The first non-empty line is not `# Title`.
    #[error("no `# Title` line")]
    NoTitle,
    /// Nothing after the title.
    #[error("empty body")]
    EmptyBody,
}

fn parse_tags(value: &str) -> Vec<String> {
    let inner = value.trim().trim_start_matches('[').trim_end_matches(']');
    inner
        .split(',')
        .map(|t| t.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

/// Parses one Markdown article: optional front matter between `---` lines (`tags: [a, b]`,
/// `lang: zh-CN|zh-TW|en`), then `# Title`, then the body.
pub fn parse_article(id: &str, text: &str) -> Result<Article, ParseError> {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let mut lines = text.lines().peekable();
    let mut tags = Vec::new();
    let mut lang = None;
    if lines.peek().map(|l| l.trim_end()) == Some("---") {
        lines.next();
        let mut closed = false;
        for line in lines.by_ref() {
            let line = line.trim();
            if line == "---" {
                closed = true;
                break;
            }
            if let Some((key, value)) = line.split_once(':') {
                match key.trim() {
                    "tags" => tags = parse_tags(value),
                    "lang" => {
                        let parsed = Lang::parse(value)
                            .ok_or_else(|| ParseError::BadLang(value.trim().into()))?;
                        lang = Some(parsed);
                    }
                    _ => {}
                }
            }
        }
        if !closed {
            return Err(ParseError::UnclosedFrontMatter);
        }
    }
    let title = loop {
        match lines.next() {
            None => return Err(ParseError::NoTitle),
            Some(line) if line.trim().is_empty() => continue,
            Some(line) => match line.trim().strip_prefix("# ") {
                Some(t) if !t.trim().is_empty() => break t.trim().to_string(),
                _ => return Err(ParseError::NoTitle),
            },
        }
    };
    let body = lines.collect::<Vec<_>>().join("\n").trim().to_string();
    if body.is_empty() {
        return Err(ParseError::EmptyBody);
    }
    let lang = lang.unwrap_or_else(|| Lang::detect(&format!("{title}\n{body}")));
    Ok(Article {
        id: id.to_string(),
        title,
        body,
        tags,
        lang,
    })
}

/// Reads every `*.md` file of a folder (not recursive), in file-name order. Bad files are listed
/// in the report and skipped; only a folder that cannot be listed is an error.
pub fn read_markdown_dir(dir: &Path) -> Result<(Vec<Article>, ImportReport), Error> {
    let entries = fs::read_dir(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = Vec::new();
    let mut report = ImportReport::default();
    for entry in entries {
        match entry {
            Ok(e) => {
                let path = e.path();
                if path
                    .extension()
                    .and_then(|x| x.to_str())
                    .map(|x| x.eq_ignore_ascii_case("md"))
                    == Some(true)
                {
                    paths.push(path);
                }
            }
            Err(err) => report.skipped.push(SkippedFile {
                file: dir.display().to_string(),
                reason: format!("cannot list entry: {err}"),
            }),
        }
    }
    paths.sort();
    let mut articles = Vec::with_capacity(paths.len());
    for path in paths {
        let file = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let id = path
            .file_stem()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let skip = |reason: String| SkippedFile {
            file: file.clone(),
            reason,
        };
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(err) => {
                report.skipped.push(skip(format!("unreadable: {err}")));
                continue;
            }
        };
        let text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(err) => {
                report.skipped.push(skip(format!("not UTF-8: {err}")));
                continue;
            }
        };
        match parse_article(&id, &text) {
            Ok(article) => {
                report.imported.push(article.id.clone());
                articles.push(article);
            }
            Err(err) => report.skipped.push(skip(err.to_string())),
        }
    }
    for s in &report.skipped {
        tracing::warn!(file = %s.file, reason = %s.reason, "kb import: skipped file");
    }
    Ok((articles, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_front_matter_title_and_body() {
        let a = parse_article(
            "x",
            "---\ntags: [billing, \"refund\"]\nlang: zh-TW\n---\n\n# 退款流程\n\n第一步。\n第二步。\n",
        )
        .unwrap();
        assert_eq!(a.title, "退款流程");
        assert_eq!(a.body, "第一步。\n第二步。");
        assert_eq!(a.tags, vec!["billing", "refund"]);
        assert_eq!(a.lang, Lang::ZhTw);
    }

    #[test]
    fn detects_language_without_front_matter() {
        assert_eq!(
            parse_article("a", "# 重設密碼\n\n請客戶登入帳號。")
                .unwrap()
                .lang,
            Lang::ZhTw
        );
        assert_eq!(
            parse_article("b", "# 重置密码\n\n请客户登录账号。")
                .unwrap()
                .lang,
            Lang::ZhCn
        );
        assert_eq!(
            parse_article("c", "# Reset\n\nAsk the caller.")
                .unwrap()
                .lang,
            Lang::En
        );
    }

    #[test]
    fn rejects_bad_articles() {
        assert_eq!(
            parse_article("a", "no title\n\nbody"),
            Err(ParseError::NoTitle)
        );
        assert_eq!(
            parse_article("a", "# Title\n\n   \n"),
            Err(ParseError::EmptyBody)
        );
        assert_eq!(parse_article("a", ""), Err(ParseError::NoTitle));
        assert_eq!(
            parse_article("a", "---\ntags: [a]\n# T\n\nb"),
            Err(ParseError::UnclosedFrontMatter)
        );
        assert!(matches!(
            parse_article("a", "---\nlang: fr\n---\n# T\n\nb"),
            Err(ParseError::BadLang(_))
        ));
    }
}
