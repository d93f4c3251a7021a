//! Articles and the folder import: Markdown, HTML exports and JSON.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use scraper::{ElementRef, Html};
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
    /// The file is not JSON at all.
    #[error("malformed JSON: {0}")]
    Json(String),
    /// The JSON parses but is not an article object or an array of them.
    #[error("not an article: {0}")]
    JsonShape(String),
    /// A JSON array without any article.
    #[error("no articles in the file")]
    NoArticles,
    /// An article id that is empty.
    #[error("empty article id")]
    EmptyId,
    /// Two articles of one file share an id.
    #[error("duplicate article id `{0}` in the file")]
    DuplicateId(String),
    /// One article of a JSON array is invalid (the whole file is skipped).
    #[error("article {index}: {error}")]
    Entry {
        /// 1-based position in the array.
        index: usize,
        /// What is wrong with it.
        error: Box<ParseError>,
    },
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
    let text = strip_bom(text);
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

fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{FEFF}').unwrap_or(text)
}

/// Elements whose content is never article text.
const DROPPED: &[&str] = &[
    "head", "script", "style", "nav", "noscript", "template", "iframe", "svg", "object",
];

/// Elements that start a new line (or paragraph) in the extracted text.
const BLOCKS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "dd",
    "details",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "ol",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "tbody",
    "tfoot",
    "thead",
    "tr",
    "ul",
];

/// Whitespace runs become one space, as a browser renders them.
fn collapse_ws(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Elements outside dropped subtrees, in document order. Iterative, so deeply nested exports
/// cannot overflow the stack.
fn visible_elements(root: ElementRef<'_>) -> Vec<ElementRef<'_>> {
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(el) = stack.pop() {
        if DROPPED.contains(&el.value().name()) {
            continue;
        }
        out.push(el);
        let children: Vec<_> = el.child_elements().collect();
        stack.extend(children.into_iter().rev());
    }
    out
}

fn element_text(el: ElementRef<'_>) -> String {
    collapse_ws(&el.text().collect::<String>())
}

/// Work items of the text walk in [`push_text`].
enum Step<'a> {
    /// Visit the children of an element (`true` inside `<pre>`).
    Children(ElementRef<'a>, bool),
    /// A text node (`true` inside `<pre>`).
    Text(&'a str, bool),
    Push(&'static str),
    /// Start of a list item: remember where its text begins.
    BeginItem,
    /// End of a list item: fold its text into one line.
    EndItem,
}

/// Appends the visible text of `root` to `out`, skipping `skip` (the element used as the
/// title). An explicit stack instead of recursion: nesting depth is up to the file.
fn push_text(root: ElementRef<'_>, skip: Option<ElementRef<'_>>, out: &mut String) {
    let mut stack = vec![Step::Children(root, false)];
    let mut items = Vec::new();
    while let Some(step) = stack.pop() {
        match step {
            Step::Push(s) => out.push_str(s),
            Step::Text(text, true) => out.push_str(text),
            Step::Text(text, false) => {
                // Keep one space where the source had whitespace between inline runs.
                if text.starts_with(char::is_whitespace) {
                    out.push(' ');
                }
                out.push_str(&collapse_ws(text));
                if text.ends_with(char::is_whitespace) {
                    out.push(' ');
                }
            }
            Step::BeginItem => {
                out.push_str("\n- ");
                items.push(out.len());
            }
            Step::EndItem => {
                // One line per item, so a `<p>` inside does not split the bullet from its text.
                if let Some(start) = items.pop() {
                    let item = collapse_ws(&out[start..]);
                    out.truncate(start);
                    out.push_str(&item);
                }
            }
            Step::Children(el, in_pre) => {
                // Pushed last child first, so the first child is popped first.
                let children: Vec<_> = el.children().collect();
                for child in children.into_iter().rev() {
                    if let Some(text) = child.value().as_text() {
                        stack.push(Step::Text(text, in_pre));
                        continue;
                    }
                    let Some(child) = ElementRef::wrap(child) else {
                        continue;
                    };
                    let name = child.value().name();
                    if DROPPED.contains(&name) || Some(child) == skip {
                        continue;
                    }
                    let (before, after, pre) = match name {
                        "br" => {
                            stack.push(Step::Push("\n"));
                            continue;
                        }
                        "td" | "th" => (Step::Push(" "), Step::Push(" "), in_pre),
                        "li" => (Step::BeginItem, Step::EndItem, in_pre),
                        _ if BLOCKS.contains(&name) => (
                            Step::Push("\n\n"),
                            Step::Push("\n\n"),
                            in_pre || name == "pre",
                        ),
                        _ => {
                            stack.push(Step::Children(child, in_pre));
                            continue;
                        }
                    };
                    stack.push(after);
                    stack.push(Step::Children(child, pre));
                    stack.push(before);
                }
            }
        }
    }
}

/// Collapses the spaces of every line and keeps at most one blank line between paragraphs.
fn tidy_lines(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines().map(collapse_ws) {
        if line.is_empty() && out.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        out.push(line);
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out.join("\n")
}

/// Visible text of an HTML document or fragment, block elements as line breaks.
fn html_to_text(root: ElementRef<'_>, skip: Option<ElementRef<'_>>) -> String {
    let mut out = String::new();
    push_text(root, skip, &mut out);
    tidy_lines(&out)
}

/// `<html lang>` to a [`Lang`]: explicit Chinese scripts and regions are trusted; anything
/// else (plain `zh`, `en` on a template that also carries Chinese pages) falls back to
/// detection, which answers English only for text without Han characters.
fn html_lang(attr: Option<&str>, text: &str) -> Lang {
    let tag = attr.unwrap_or_default().trim().to_ascii_lowercase();
    let has = |part: &str| tag.split(['-', '_']).any(|p| p == part);
    if tag.starts_with("zh") && (has("hant") || has("tw") || has("hk") || has("mo")) {
        Lang::ZhTw
    } else if tag.starts_with("zh") && (has("hans") || has("cn") || has("sg")) {
        Lang::ZhCn
    } else {
        Lang::detect(text)
    }
}

fn split_keywords(content: &str) -> Vec<String> {
    content
        .split([',', '，', '、', ';', '；'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// Parses one HTML export: title from the first `<h1>` (else `<title>`), body = the visible
/// text of `<body>` without that heading (script, style and nav dropped, entities decoded,
/// block elements as line breaks), `lang` from `<html lang>`, tags from
/// `<meta name="keywords">`.
pub fn parse_html(id: &str, text: &str) -> Result<Article, ParseError> {
    let doc = Html::parse_document(strip_bom(text));
    let root = doc.root_element();
    let elements = visible_elements(root);
    let h1 = elements
        .iter()
        .copied()
        .filter(|e| e.value().name() == "h1")
        .find(|e| !element_text(*e).is_empty());
    let title = match h1 {
        Some(h1) => element_text(h1),
        None => root
            .descendent_elements()
            .find(|e| e.value().name() == "title")
            .map(element_text)
            .unwrap_or_default(),
    };
    if title.is_empty() {
        return Err(ParseError::NoTitle);
    }
    let body_root = elements
        .iter()
        .copied()
        .find(|e| e.value().name() == "body")
        .unwrap_or(root);
    let body = html_to_text(body_root, h1);
    if body.is_empty() {
        return Err(ParseError::EmptyBody);
    }
    let tags = root
        .descendent_elements()
        .filter(|e| e.value().name() == "meta")
        .filter(|e| {
            e.value()
                .attr("name")
                .is_some_and(|n| n.trim().eq_ignore_ascii_case("keywords"))
        })
        .filter_map(|e| e.value().attr("content"))
        .flat_map(split_keywords)
        .collect();
    let lang = html_lang(root.value().attr("lang"), &format!("{title}\n{body}"));
    Ok(Article {
        id: id.to_string(),
        title,
        body,
        tags,
        lang,
    })
}

/// One article of a JSON file; unknown fields (timestamps, authors of an export) are ignored.
#[derive(Deserialize)]
struct JsonArticle {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    tags: Option<Vec<String>>,
    #[serde(default)]
    lang: Option<String>,
}

impl JsonArticle {
    fn from_value(value: serde_json::Value) -> Result<JsonArticle, ParseError> {
        if !value.is_object() {
            return Err(ParseError::JsonShape("expected an object".into()));
        }
        serde_json::from_value(value).map_err(|e| ParseError::JsonShape(e.to_string()))
    }

    fn into_article(self, default_id: String) -> Result<Article, ParseError> {
        let id = self.id.unwrap_or(default_id).trim().to_string();
        if id.is_empty() {
            return Err(ParseError::EmptyId);
        }
        let title = collapse_ws(self.title.as_deref().unwrap_or_default());
        if title.is_empty() {
            return Err(ParseError::NoTitle);
        }
        let raw = self.body.unwrap_or_default();
        // Help-desk exports (Zendesk and the like) carry the body as HTML.
        let body = if raw.trim_start().starts_with('<') && raw.contains("</") {
            let fragment = Html::parse_fragment(&raw);
            html_to_text(fragment.root_element(), None)
        } else {
            raw.trim().to_string()
        };
        if body.is_empty() {
            return Err(ParseError::EmptyBody);
        }
        let lang = match self.lang.as_deref() {
            Some(tag) => Lang::parse(tag).ok_or_else(|| ParseError::BadLang(tag.trim().into()))?,
            None => Lang::detect(&format!("{title}\n{body}")),
        };
        let tags = self
            .tags
            .unwrap_or_default()
            .into_iter()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect();
        Ok(Article {
            id,
            title,
            body,
            tags,
            lang,
        })
    }
}

/// Parses a JSON file: one article object `{ "id"?, "title", "body", "tags"?, "lang"? }` (id
/// defaults to `stem`) or an array of them (ids default to `stem#1`, `stem#2`, …). Any bad
/// entry or a duplicate id rejects the whole file, so a file is never half-imported.
pub fn parse_json(stem: &str, text: &str) -> Result<Vec<Article>, ParseError> {
    let value: serde_json::Value =
        serde_json::from_str(strip_bom(text)).map_err(|e| ParseError::Json(e.to_string()))?;
    match value {
        serde_json::Value::Object(_) => Ok(vec![
            JsonArticle::from_value(value)?.into_article(stem.to_string())?
        ]),
        serde_json::Value::Array(items) => {
            if items.is_empty() {
                return Err(ParseError::NoArticles);
            }
            let mut seen = HashSet::new();
            let mut articles = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                let index = i + 1;
                let article = JsonArticle::from_value(item)
                    .and_then(|a| a.into_article(format!("{stem}#{index}")))
                    .map_err(|error| ParseError::Entry {
                        index,
                        error: Box::new(error),
                    })?;
                if !seen.insert(article.id.clone()) {
                    return Err(ParseError::DuplicateId(article.id));
                }
                articles.push(article);
            }
            Ok(articles)
        }
        _ => Err(ParseError::JsonShape(
            "expected an article object or an array of articles".into(),
        )),
    }
}

/// File formats the import reads, by extension (case-insensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Markdown,
    Html,
    Json,
}

impl Format {
    fn of(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "md" | "markdown" => Some(Format::Markdown),
            "html" | "htm" => Some(Format::Html),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    fn parse(self, stem: &str, text: &str) -> Result<Vec<Article>, ParseError> {
        match self {
            Format::Markdown => parse_article(stem, text).map(|a| vec![a]),
            Format::Html => parse_html(stem, text).map(|a| vec![a]),
            Format::Json => parse_json(stem, text),
        }
    }
}

/// Reads every `*.md`, `*.html`/`*.htm` and `*.json` file of a folder (not recursive), in
/// file-name order; other files are ignored. Bad files are listed in the report and skipped
/// whole, as is a file whose id was already taken by an earlier file (`a.md` and `a.json`);
/// only a folder that cannot be listed is an error.
pub fn read_article_dir(dir: &Path) -> Result<(Vec<Article>, ImportReport), Error> {
    let entries = fs::read_dir(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut paths: Vec<(PathBuf, Format)> = Vec::new();
    let mut report = ImportReport::default();
    for entry in entries {
        match entry {
            Ok(e) => {
                let path = e.path();
                if let Some(format) = Format::of(&path) {
                    paths.push((path, format));
                }
            }
            Err(err) => report.skipped.push(SkippedFile {
                file: dir.display().to_string(),
                reason: format!("cannot list entry: {err}"),
            }),
        }
    }
    paths.sort_by(|a, b| a.0.cmp(&b.0));
    let mut articles = Vec::with_capacity(paths.len());
    // Which file each id came from, to name it when a later file repeats the id.
    let mut owners: HashMap<String, String> = HashMap::new();
    for (path, format) in paths {
        let file = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stem = path
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
        let parsed = match format.parse(&stem, &text) {
            Ok(parsed) => parsed,
            Err(err) => {
                report.skipped.push(skip(err.to_string()));
                continue;
            }
        };
        if let Some((id, owner)) = parsed
            .iter()
            .find_map(|a| owners.get(&a.id).map(|owner| (&a.id, owner)))
        {
            report.skipped.push(skip(format!(
                "duplicate article id `{id}` (already imported from {owner})"
            )));
            continue;
        }
        for article in parsed {
            owners.insert(article.id.clone(), file.clone());
            report.imported.push(article.id.clone());
            articles.push(article);
        }
    }
    for s in &report.skipped {
        tracing::warn!(file = %s.file, reason = %s.reason, "kb import: skipped file");
    }
    Ok((articles, report))
}

/// The folder import under its original name; reads every supported format, not only
/// Markdown (see [`read_article_dir`]).
pub fn read_markdown_dir(dir: &Path) -> Result<(Vec<Article>, ImportReport), Error> {
    read_article_dir(dir)
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

    const HTML_EXPORT: &str = r#"<!DOCTYPE html>
<html lang="zh-Hant-TW">
<head>
  <title>客服知識庫 - 匯出</title>
  <meta name="keywords" content="帳單, 退款，發票">
  <style>p { color: red }</style>
  <script>var tracking = "不要索引";</script>
</head>
<body>
  <nav><a href="/">首頁</a> &gt; <a href="/kb">知識庫</a></nav>
  <h1>退款 &amp; 退費流程</h1>
  <p>先確認訂單編號。<br>再查詢付款方式。</p>
  <ul><li>信用卡：七個工作天</li><li>轉帳：三個工作天</li></ul>
  <p>聯絡&nbsp;客服 &lt;1999&gt;</p>
</body>
</html>"#;

    #[test]
    fn parses_an_html_export() {
        let a = parse_html("refund", HTML_EXPORT).unwrap();
        assert_eq!(a.id, "refund");
        assert_eq!(a.title, "退款 & 退費流程");
        assert_eq!(a.lang, Lang::ZhTw);
        assert_eq!(a.tags, vec!["帳單", "退款", "發票"]);
        assert_eq!(
            a.body,
            "先確認訂單編號。\n再查詢付款方式。\n\n- 信用卡：七個工作天\n- 轉帳：三個工作天\n\n聯絡 客服 <1999>"
        );
        assert!(!a.body.contains("不要索引"), "script dropped");
        assert!(!a.body.contains("首頁"), "nav dropped");
        assert!(!a.body.contains("color"), "style dropped");
    }

    #[test]
    fn html_title_falls_back_to_title_element_and_lang_is_detected() {
        let a = parse_html(
            "x",
            "<html><head><title> Reset a  password </title></head>\
             <body><div>Ask the caller for the <b>account</b> number.</div></body></html>",
        )
        .unwrap();
        assert_eq!(a.title, "Reset a password");
        assert_eq!(a.body, "Ask the caller for the account number.");
        assert_eq!(a.lang, Lang::En);
        // `lang="en"` on a template that carries a Chinese page: the text decides.
        let b = parse_html(
            "y",
            "<html lang=en><body><h1>重置密码</h1><p>请客户登录。</p></body></html>",
        )
        .unwrap();
        assert_eq!(b.lang, Lang::ZhCn);
        assert!(b.tags.is_empty());
    }

    #[test]
    fn rejects_bad_html() {
        assert_eq!(
            parse_html("a", "<html><body><p>no heading</p></body></html>"),
            Err(ParseError::NoTitle)
        );
        assert_eq!(parse_html("a", "just some text"), Err(ParseError::NoTitle));
        assert_eq!(parse_html("a", ""), Err(ParseError::NoTitle));
        assert_eq!(
            parse_html("a", "<h1>Title</h1><script>x()</script>  "),
            Err(ParseError::EmptyBody)
        );
        // A heading only inside the navigation is not the title.
        assert_eq!(
            parse_html("a", "<nav><h1>Menu</h1></nav><p>text</p>"),
            Err(ParseError::NoTitle)
        );
    }

    #[test]
    fn deeply_nested_html_is_walked_without_recursion() {
        // html5ever's scope checks make parsing itself quadratic in the nesting depth, so the
        // depth here stays moderate; our walk is iterative and linear.
        let n = 1_500;
        let html = format!(
            "<h1>T</h1>{}x<ul><li><p>a</p><p>b</p></li><li>c</li></ul>{}",
            "<div><span>".repeat(n),
            "</span></div>".repeat(n)
        );
        let started = std::time::Instant::now();
        let a = parse_html("deep", &html).unwrap();
        assert_eq!(a.body, "x\n\n- a b\n- c");
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }

    #[test]
    fn parses_json_object_and_array() {
        let one = parse_json(
            "billing",
            r#"{"title": "账单查询", "body": "登录网上营业厅。", "tags": ["账单", " "], "updated": 3}"#,
        )
        .unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].id, "billing");
        assert_eq!(one[0].tags, vec!["账单"]);
        assert_eq!(one[0].lang, Lang::ZhCn);

        let many = parse_json(
            "faq",
            r#"[{"title": "A", "body": "first"},
                {"id": "custom", "title": "B", "body": "second", "lang": "zh-TW"},
                {"title": "C", "body": "<p>third</p><p>para&amp;graph</p>"}]"#,
        )
        .unwrap();
        let ids: Vec<&str> = many.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, vec!["faq#1", "custom", "faq#3"]);
        assert_eq!(many[1].lang, Lang::ZhTw);
        assert_eq!(many[2].body, "third\n\npara&graph");
    }

    #[test]
    fn rejects_bad_json() {
        assert!(matches!(
            parse_json("a", "{\"title\": "),
            Err(ParseError::Json(_))
        ));
        assert!(matches!(
            parse_json("a", "42"),
            Err(ParseError::JsonShape(_))
        ));
        assert_eq!(parse_json("a", "[]"), Err(ParseError::NoArticles));
        assert_eq!(
            parse_json("a", r#"{"body": "no title"}"#),
            Err(ParseError::NoTitle)
        );
        assert_eq!(
            parse_json("a", r#"{"title": "T", "body": "  "}"#),
            Err(ParseError::EmptyBody)
        );
        assert_eq!(
            parse_json("a", r#"{"id": " ", "title": "T", "body": "b"}"#),
            Err(ParseError::EmptyId)
        );
        assert!(matches!(
            parse_json("a", r#"{"title": "T", "body": "b", "lang": "fr"}"#),
            Err(ParseError::BadLang(_))
        ));
        assert!(matches!(
            parse_json("a", r#"{"title": 5, "body": "b"}"#),
            Err(ParseError::JsonShape(_))
        ));
        // One bad entry rejects the whole array.
        let err = parse_json(
            "a",
            r#"[{"title": "ok", "body": "b"}, {"title": "", "body": "b"}]"#,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "article 2: no `# Title` line");
        assert!(matches!(
            parse_json("a", r#"[{"title": "ok", "body": "b"}, "text"]"#),
            Err(ParseError::Entry { index: 2, .. })
        ));
        assert_eq!(
            parse_json(
                "a",
                r#"[{"id": "x", "title": "A", "body": "b"}, {"id": "x", "title": "B", "body": "c"}]"#
            ),
            Err(ParseError::DuplicateId("x".into()))
        );
    }

    #[test]
    fn reads_every_format_and_skips_bad_and_colliding_files() {
        let dir = tempfile::tempdir().unwrap();
        let put = |name: &str, text: &[u8]| fs::write(dir.path().join(name), text).unwrap();
        put("a.md", "# A\n\nmarkdown".as_bytes());
        put("a.json", br#"{"title": "A again", "body": "json"}"#);
        put("b.HTML", b"<h1>B</h1><p>html</p>");
        put("c.htm", b"<p>no title</p>");
        put(
            "d.json",
            br#"[{"title": "D1", "body": "x"}, {"title": "D2", "body": "y"}]"#,
        );
        put(
            "e.json",
            br#"[{"title": "E1", "body": "x"}, {"title": "E2"}]"#,
        );
        put("f.html", b"<h1>Caf\xe9</h1><p>latin-1</p>");
        put("notes.txt", b"ignored");
        let (articles, report) = read_article_dir(dir.path()).unwrap();
        let ids: Vec<&str> = articles.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, vec!["a", "b", "d#1", "d#2"]);
        assert_eq!(report.imported, ids);
        let skipped: Vec<(&str, &str)> = report
            .skipped
            .iter()
            .map(|s| (s.file.as_str(), s.reason.as_str()))
            .collect();
        assert_eq!(
            skipped,
            vec![
                (
                    "a.md",
                    "duplicate article id `a` (already imported from a.json)"
                ),
                ("c.htm", "no `# Title` line"),
                ("e.json", "article 2: empty body"),
                (
                    "f.html",
                    "not UTF-8: invalid utf-8 sequence of 1 bytes from index 7"
                ),
            ]
        );
    }
}
