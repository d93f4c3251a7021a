//! Suggestions from the live call: articles for what the call is about, without a typed query.
//!
//! The call's context ([`CallContext`]: IVR menu path and data fields, the customer's open
//! work orders, the notes the agent is typing, the customer's tags) is turned into weighted
//! keywords: each text is folded (traditional → simplified, full-width → ASCII, lowercase),
//! jieba's TF-IDF picks its salient words, filler (您好, 客户, please…) is dropped, and each
//! source counts by how fresh and intentional it is — notes typed now and the IVR choice over
//! open orders over tags.
//!
//! Ranking is a weighted OR of the keywords: each keyword is searched on its own with
//! [`KbIndex::search`] and an article's score is the weighted sum of its per-keyword scores.
//! Tantivy sums the clauses of a boolean OR the same way, so this is that query (up to each
//! keyword's top-N cut), and it also tells which keywords led to each article (`because`),
//! which the panel shows.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use jieba_rs::{Jieba, KeywordExtract, KeywordExtractConfig, TfIdf};
use serde::{Deserialize, Serialize};

use crate::analyzer::{fold, is_han_char};
use crate::index::KbIndex;
use crate::snippet::snippet;

/// What is known about the call in progress. Every field may be empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CallContext {
    /// The IVR menu choices in order, e.g. `["账单查询", "退款"]`.
    pub ivr_path: Vec<String>,
    /// IVR / SIP data fields (header or field name → value).
    pub ivr_data: BTreeMap<String, String>,
    /// The customer's open work orders, most recent first.
    pub open_orders: Vec<OpenOrder>,
    /// What the agent is typing now (order description or note).
    pub notes: String,
    /// The customer's tags (segment, plan, language…).
    pub customer_tags: Vec<String>,
}

/// One open work order of the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OpenOrder {
    /// The order's title.
    pub title: String,
    /// Its category or kind, as the agent reads it (投诉, 报修…).
    pub category: String,
    /// Its notes and description, joined.
    pub notes: String,
}

/// One suggested article.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Suggestion {
    /// Article id.
    pub id: String,
    /// Original title.
    pub title: String,
    /// HTML snippet with the matched keywords in `<mark>`.
    pub snippet: String,
    /// Relevance score (only comparable within one call of [`suggest`]).
    pub score: f32,
    /// The keywords that led to this article, strongest first, as written in the context.
    pub because: Vec<String>,
}

/// A keyword taken from the context.
#[derive(Debug, Clone, PartialEq)]
pub struct Keyword {
    /// Folded form (what is searched).
    pub text: String,
    /// As it was written in the context (for display).
    pub surface: String,
    /// Weight in (0, MAX_KEYWORD_WEIGHT].
    pub weight: f32,
}

// Source weights: what the agent types now and what the caller chose in the IVR say most
// about this call; open orders are the customer's history; tags are broad.
const W_NOTES: f32 = 1.0;
const W_IVR_LAST: f32 = 1.0;
const W_IVR_EARLIER: f32 = 0.7;
const W_IVR_DATA: f32 = 0.7;
const W_ORDER_TITLE: f32 = 0.6;
const W_ORDER_CATEGORY: f32 = 0.4;
const W_ORDER_NOTES: f32 = 0.45;
const W_TAGS: f32 = 0.3;
/// Later open orders count less than the most recent one.
const ORDER_DECAY: f32 = 0.7;
/// A keyword repeated across sources gains this share of its other weights.
const AGREEMENT: f32 = 0.3;
const MAX_KEYWORD_WEIGHT: f32 = 1.5;

/// Keywords kept in total, and per kind of text.
const MAX_KEYWORDS: usize = 14;
const TOP_NOTES: usize = 8;
const TOP_SHORT: usize = 3;
const TOP_ORDER_TEXT: usize = 5;
const MAX_ORDERS: usize = 5;
/// Only the end of long notes is read: the agent's latest words are the freshest.
const MAX_TEXT_CHARS: usize = 1_000;
/// Each keyword's own search looks this deep (at least).
const MIN_DEPTH: usize = 20;
const MAX_BECAUSE: usize = 4;

/// Filler of calls and notes (folded forms): greetings, politeness, "customer", call words,
/// and English function words jieba's own list misses. Every article contains them.
const FILLER: &[&str] = &[
    "您好",
    "你好",
    "请问",
    "谢谢",
    "感谢",
    "麻烦",
    "不好意思",
    "客户",
    "顾客",
    "用户",
    "客人",
    "来电",
    "致电",
    "电话",
    "先生",
    "女士",
    "小姐",
    "坐席",
    "一下",
    "一直",
    "那个",
    "这个",
    "就是",
    "然后",
    "还是",
    "已经",
    "现在",
    "这次",
    "什么",
    "怎么",
    "为什么",
    "可以",
    "需要",
    "希望",
    "表示",
    "反映",
    "咨询",
    "询问",
    "问题",
    "情况",
    "没有",
    "不要",
    "知道",
    "处理",
    "说",
    "hello",
    "hi",
    "please",
    "thanks",
    "thank",
    "customer",
    "caller",
    "client",
    "call",
    "calls",
    "called",
    "says",
    "said",
    "say",
    "wants",
    "want",
    "about",
    "an",
    "was",
    "were",
    "his",
    "her",
    "their",
    "they",
    "he",
    "she",
    "my",
    "me",
    "our",
    "your",
    "has",
    "had",
    "been",
    "not",
    "no",
    "yes",
    "ok",
    "okay",
    "also",
    "just",
    "still",
    "there",
    "here",
    "would",
    "could",
    "will",
    "does",
    "did",
    "do",
];

struct Extractor {
    jieba: Jieba,
    tfidf: TfIdf,
}

/// jieba's dictionary and IDF table take a moment and some memory: loaded once, on the first
/// call with a context.
fn extractor() -> &'static Extractor {
    static EXTRACTOR: OnceLock<Extractor> = OnceLock::new();
    EXTRACTOR.get_or_init(|| {
        let mut config = KeywordExtractConfig::builder();
        for word in FILLER {
            config = config.add_stop_word(*word);
        }
        let mut tfidf = TfIdf::default();
        *tfidf.config_mut() = config.build();
        Extractor {
            jieba: Jieba::new(),
            tfidf,
        }
    })
}

/// True for a keyword that names nothing: numbers, ids, account or order numbers.
fn is_noise(word: &str) -> bool {
    let digits = word.chars().filter(char::is_ascii_digit).count();
    let meaningful = word.chars().any(|c| is_han_char(c) || c.is_alphabetic());
    !meaningful || digits >= 3 || FILLER.contains(&word)
}

/// The last `max` chars of `text`.
fn tail_chars(text: &str, max: usize) -> &str {
    let count = text.chars().count();
    if count <= max {
        return text;
    }
    let skip = count - max;
    let start = text.char_indices().nth(skip).map(|(i, _)| i).unwrap_or(0);
    &text[start..]
}

/// The original spelling of a folded word inside `text` (the first occurrence), or the word.
fn surface_of(text: &str, folded: &crate::analyzer::Folded, word: &str) -> String {
    let Some(byte) = folded.text.find(word) else {
        return word.to_string();
    };
    let start = folded.text[..byte].chars().count();
    let end = start + word.chars().count();
    match (folded.orig_offsets.get(start), folded.orig_offsets.get(end)) {
        (Some(&a), Some(&b)) => text.get(a..b).unwrap_or(word).to_string(),
        _ => word.to_string(),
    }
}

/// The `top` most salient words of one text, weighted `weight` for the best one and less
/// for the others (by TF-IDF relative to the best).
fn extract(text: &str, top: usize, weight: f32, out: &mut Vec<Keyword>) {
    let text = tail_chars(text.trim(), MAX_TEXT_CHARS);
    if text.is_empty() || weight <= 0.0 {
        return;
    }
    let folded = fold(text);
    let ex = extractor();
    // Ask for more than needed: noise is dropped afterwards.
    let words = ex
        .tfidf
        .extract_keywords(&ex.jieba, &folded.text, top * 2, Vec::new());
    let kept: Vec<_> = words
        .into_iter()
        .filter(|k| !is_noise(k.keyword.trim()))
        .take(top)
        .collect();
    let best = kept.iter().map(|k| k.weight).fold(0.0_f64, f64::max);
    if best <= 0.0 {
        return;
    }
    for k in kept {
        let word = k.keyword.trim();
        // Relative salience, flattened so a short text's second word still counts.
        let relative = (k.weight / best).sqrt() as f32;
        out.push(Keyword {
            text: word.to_string(),
            surface: surface_of(text, &folded, word),
            weight: weight * relative,
        });
    }
}

/// The weighted keywords of a call context, strongest first. Empty for an empty context.
pub fn keywords(context: &CallContext) -> Vec<Keyword> {
    let mut raw: Vec<Keyword> = Vec::new();
    extract(&context.notes, TOP_NOTES, W_NOTES, &mut raw);
    let last = context.ivr_path.len().saturating_sub(1);
    for (i, choice) in context.ivr_path.iter().enumerate() {
        let w = if i == last { W_IVR_LAST } else { W_IVR_EARLIER };
        extract(choice, TOP_SHORT, w, &mut raw);
    }
    for value in context.ivr_data.values() {
        extract(value, TOP_SHORT, W_IVR_DATA, &mut raw);
    }
    let mut decay = 1.0;
    for order in context.open_orders.iter().take(MAX_ORDERS) {
        let texts = [
            (&order.title, TOP_ORDER_TEXT, W_ORDER_TITLE),
            (&order.category, TOP_SHORT, W_ORDER_CATEGORY),
            (&order.notes, TOP_ORDER_TEXT, W_ORDER_NOTES),
        ];
        for (text, top, weight) in texts {
            extract(text, top, weight * decay, &mut raw);
        }
        decay *= ORDER_DECAY;
    }
    for tag in &context.customer_tags {
        extract(tag, TOP_SHORT, W_TAGS, &mut raw);
    }

    // One entry per folded word: the strongest source plus a share of the others.
    let mut merged: Vec<(Keyword, f32)> = Vec::new();
    for k in raw {
        match merged.iter_mut().find(|(m, _)| m.text == k.text) {
            Some((m, others)) => {
                if k.weight > m.weight {
                    *others += m.weight;
                    m.weight = k.weight;
                    m.surface = k.surface;
                } else {
                    *others += k.weight;
                }
            }
            None => merged.push((k, 0.0)),
        }
    }
    let mut out: Vec<Keyword> = merged
        .into_iter()
        .map(|(mut k, others)| {
            k.weight = (k.weight + AGREEMENT * others).min(MAX_KEYWORD_WEIGHT);
            k
        })
        .collect();
    out.sort_by(|a, b| b.weight.total_cmp(&a.weight).then(a.text.cmp(&b.text)));
    out.truncate(MAX_KEYWORDS);
    out
}

struct Candidate {
    title: String,
    snippet: String,
    score: f32,
    /// (keyword index, contribution)
    because: Vec<(usize, f32)>,
}

/// Articles for the call, best first, at most `limit`. An empty context, an empty index or a
/// failing search give fewer or no suggestions, never an error (failures are logged).
pub fn suggest(kb: &KbIndex, context: &CallContext, limit: usize) -> Vec<Suggestion> {
    if limit == 0 {
        return Vec::new();
    }
    let keywords = keywords(context);
    if keywords.is_empty() || kb.num_docs() == 0 {
        return Vec::new();
    }
    let depth = (limit + 10).max(MIN_DEPTH);
    let mut candidates: HashMap<String, Candidate> = HashMap::new();
    for (i, keyword) in keywords.iter().enumerate() {
        // The trailing space tells the search the word is finished (no prefix completions).
        let hits = match kb.search(&format!("{} ", keyword.text), depth) {
            Ok(hits) => hits,
            Err(e) => {
                tracing::warn!(error = %e, "kb suggest: keyword search failed");
                continue;
            }
        };
        for hit in hits {
            let contribution = keyword.weight * hit.score;
            let entry = candidates.entry(hit.id).or_insert_with(|| Candidate {
                title: hit.title,
                snippet: String::new(),
                score: 0.0,
                because: Vec::new(),
            });
            entry.score += contribution;
            if entry.because.iter().all(|(_, c)| contribution > *c) {
                // The strongest keyword's snippet until a better one is built below.
                entry.snippet = hit.snippet;
            }
            entry.because.push((i, contribution));
        }
    }
    let mut ranked: Vec<(String, Candidate)> = candidates.into_iter().collect();
    ranked.sort_by(|a, b| b.1.score.total_cmp(&a.1.score).then(a.0.cmp(&b.0)));
    ranked.truncate(limit);

    let highlight = highlight_terms(kb, &keywords);
    let snippet_chars = kb.config().snippet_chars;
    ranked
        .into_iter()
        .map(|(id, mut c)| {
            c.because.sort_by(|a, b| b.1.total_cmp(&a.1));
            let because: Vec<String> = c
                .because
                .iter()
                .take(MAX_BECAUSE)
                .filter_map(|(i, _)| keywords.get(*i).map(|k| k.surface.clone()))
                .collect();
            // A snippet around all the call's keywords, not only the strongest one.
            let snippet = match kb.article(&id) {
                Ok(Some(article)) => snippet(&article.body, &highlight, snippet_chars),
                _ => c.snippet,
            };
            Suggestion {
                id,
                title: c.title,
                snippet,
                score: c.score,
                because,
            }
        })
        .collect()
}

/// Analyzed terms of every keyword, weighted for the snippet window.
fn highlight_terms(kb: &KbIndex, keywords: &[Keyword]) -> HashMap<String, f32> {
    let mut terms = HashMap::new();
    for k in keywords {
        let Ok(plan) = kb.plan(&format!("{} ", k.text)) else {
            continue;
        };
        let words = plan
            .terms
            .into_iter()
            .chain(plan.homophones.into_iter().map(|(_, w)| w));
        for term in words {
            let weight = terms.entry(term).or_insert(0.0_f32);
            *weight = weight.max(k.weight);
        }
    }
    terms
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::article::{Article, Lang};
    use crate::index::IndexOptions;

    fn article(id: &str, title: &str, body: &str) -> Article {
        Article {
            id: id.to_string(),
            title: title.to_string(),
            body: body.to_string(),
            tags: Vec::new(),
            lang: Lang::detect(body),
        }
    }

    fn kb() -> KbIndex {
        let kb = KbIndex::in_memory(IndexOptions::default()).expect("index");
        kb.replace_all(&[
            article(
                "refund",
                "退款申请处理流程",
                "客户要求退款时，先核实订单号和付款方式。七天内未使用的服务可以全额退款。",
            ),
            article(
                "password",
                "重置登录密码",
                "客户忘记密码时，引导客户点击忘记密码，输入手机号接收验证码。",
            ),
            article(
                "outage",
                "网络故障安抚话术",
                "大面积断网时，先确认客户所在区域是否在故障公告范围内，预计两小时内恢复。",
            ),
            article(
                "greeting",
                "服务用语",
                "您好，请问有什么可以帮到您？谢谢您的来电。客户您好。",
            ),
            article(
                "refund-en",
                "Refunds",
                "When a customer asks for a refund, check the order number first.",
            ),
        ])
        .expect("build");
        kb
    }

    fn ids(s: &[Suggestion]) -> Vec<&str> {
        s.iter().map(|s| s.id.as_str()).collect()
    }

    #[test]
    fn empty_context_gives_nothing() {
        let kb = kb();
        assert!(suggest(&kb, &CallContext::default(), 10).is_empty());
        let blank = CallContext {
            notes: "  ".into(),
            ivr_path: vec![String::new()],
            ..CallContext::default()
        };
        assert!(suggest(&kb, &blank, 10).is_empty());
        assert!(keywords(&blank).is_empty());
    }

    #[test]
    fn empty_index_gives_nothing() {
        let kb = KbIndex::in_memory(IndexOptions::default()).expect("index");
        let ctx = CallContext {
            notes: "客户要求退款".into(),
            ..CallContext::default()
        };
        assert!(suggest(&kb, &ctx, 10).is_empty());
    }

    #[test]
    fn filler_alone_suggests_nothing() {
        let kb = kb();
        let ctx = CallContext {
            notes: "您好，请问客户，谢谢 please hello".into(),
            ..CallContext::default()
        };
        assert!(keywords(&ctx).is_empty(), "{:?}", keywords(&ctx));
        assert!(suggest(&kb, &ctx, 10).is_empty());
    }

    #[test]
    fn ivr_path_suggests_without_a_query_and_says_why() {
        let kb = kb();
        let ctx = CallContext {
            ivr_path: vec!["账单查询".into(), "退款".into()],
            ..CallContext::default()
        };
        let s = suggest(&kb, &ctx, 10);
        assert_eq!(s.first().map(|s| s.id.as_str()), Some("refund"), "{s:?}");
        assert!(s[0].because.contains(&"退款".to_string()), "{:?}", s[0]);
        assert!(s[0].snippet.contains("<mark>"), "{}", s[0].snippet);
    }

    #[test]
    fn traditional_notes_fold_and_keep_their_spelling_for_display() {
        let kb = kb();
        let ctx = CallContext {
            notes: "客戶忘記密碼，收不到驗證碼".into(),
            ..CallContext::default()
        };
        let s = suggest(&kb, &ctx, 10);
        assert_eq!(s.first().map(|s| s.id.as_str()), Some("password"), "{s:?}");
        assert!(
            s[0].because.iter().any(|b| b == "密碼" || b == "驗證碼"),
            "{:?}",
            s[0].because
        );
    }

    #[test]
    fn notes_typed_now_outweigh_an_old_open_order() {
        let kb = kb();
        let ctx = CallContext {
            open_orders: vec![OpenOrder {
                title: "断网报修".into(),
                category: "报修".into(),
                notes: "区域故障".into(),
            }],
            notes: "这次是要重置密码".into(),
            ..CallContext::default()
        };
        let s = suggest(&kb, &ctx, 10);
        let got = ids(&s);
        assert_eq!(got.first(), Some(&"password"), "{got:?}");
        assert!(got.contains(&"outage"), "{got:?}");
    }

    #[test]
    fn ids_in_ivr_data_are_ignored_and_words_count() {
        let ctx = CallContext {
            ivr_data: BTreeMap::from([
                ("X-IVR-Account".to_string(), "8812345".to_string()),
                ("X-IVR-Intent".to_string(), "refund".to_string()),
            ]),
            ..CallContext::default()
        };
        let words: Vec<String> = keywords(&ctx).into_iter().map(|k| k.text).collect();
        assert_eq!(words, vec!["refund".to_string()]);
        let s = suggest(&kb(), &ctx, 10);
        assert_eq!(ids(&s).first(), Some(&"refund-en"));
    }

    #[test]
    fn limit_is_respected_and_zero_gives_nothing() {
        let kb = kb();
        let ctx = CallContext {
            notes: "退款 密码 断网 refund".into(),
            ..CallContext::default()
        };
        assert_eq!(suggest(&kb, &ctx, 2).len(), 2);
        assert!(suggest(&kb, &ctx, 0).is_empty());
    }

    #[test]
    fn repeated_keywords_across_sources_gain_weight() {
        let one = CallContext {
            notes: "退款".into(),
            ..CallContext::default()
        };
        let two = CallContext {
            notes: "退款".into(),
            ivr_path: vec!["退款".into()],
            ..CallContext::default()
        };
        let w = |c: &CallContext| keywords(c).first().map(|k| k.weight).unwrap_or(0.0);
        assert!(w(&two) > w(&one));
        assert!(w(&two) <= MAX_KEYWORD_WEIGHT);
    }

    #[test]
    fn long_notes_are_read_from_their_end() {
        let long = format!("{}退款", "的".repeat(3 * MAX_TEXT_CHARS));
        assert!(tail_chars(&long, MAX_TEXT_CHARS).ends_with("退款"));
        assert_eq!(tail_chars("abc", 10), "abc");
    }
}
