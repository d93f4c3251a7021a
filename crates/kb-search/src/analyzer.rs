//! Text analysis shared by indexing and querying.
//!
//! Pipeline: fold (full-width ASCII → half-width, traditional → simplified Chinese, lowercase)
//! → jieba segmentation in search mode (no HMM, so segmentation depends only on the dictionary
//! and stays identical between index and query time) → drop punctuation-only tokens → English
//! stemming. Offsets always point into the *original* text so snippets highlight what the
//! agent sees, traditional characters included.

use std::sync::{Arc, OnceLock};

use ferrous_opencc::config::BuiltinConfig;
use ferrous_opencc::OpenCC;
use jieba_rs::Jieba;
use tantivy::tokenizer::{
    Language, RemoveLongFilter, Stemmer, TextAnalyzer, Token, TokenStream, Tokenizer,
};

/// Name under which the analyzer is registered in every Tantivy index of this crate.
pub const ANALYZER_NAME: &str = "seatline_zh_en";

/// Text folded for matching, with a map back to byte offsets in the original text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folded {
    /// The folded text (simplified Chinese, lowercase, half-width ASCII).
    pub text: String,
    /// For each char of `text`, the byte offset of the corresponding char in the original;
    /// one extra entry holds the original length.
    pub orig_offsets: Vec<usize>,
}

/// Simplified variants that are written interchangeably; folded to one form for matching
/// (OpenCC turns 帳號 into 帐号, while most simplified text writes 账号).
fn fold_variant(c: char) -> char {
    match c {
        '帐' => '账',
        _ => c,
    }
}

/// Folds one char: full-width ASCII forms and the ideographic space to ASCII, simplified
/// variants to one form, then lowercase when lowercasing yields exactly one char (keeps the
/// 1:1 char mapping).
fn fold_char(c: char) -> char {
    let c = match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => fold_variant(c),
    };
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// Which OpenCC table to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    /// Characters and variant phrases only (`Tw2s`).
    Script,
    /// Also Taiwan vocabulary (`Tw2sp`: 網路 → 网络, 登入 → 登录, 簡訊 → 短信).
    Vocabulary,
}

static TW2S: OnceLock<Option<OpenCC>> = OnceLock::new();
static TW2SP: OnceLock<Option<OpenCC>> = OnceLock::new();

fn converter(table: Table) -> Option<&'static OpenCC> {
    let (cell, config) = match table {
        Table::Script => (&TW2S, BuiltinConfig::Tw2s),
        Table::Vocabulary => (&TW2SP, BuiltinConfig::Tw2sp),
    };
    cell.get_or_init(|| match OpenCC::from_config(config) {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::error!(error = %e, "kb: OpenCC tables failed to load; no script folding");
            None
        }
    })
    .as_ref()
}

/// Simplified characters OpenCC's traditional → simplified tables mangle when the input is
/// already simplified: 么 (as in 什么) is also the traditional form of 幺, so 什么 became 什幺
/// — a word no simplified text contains, which split into noise tokens on every question.
/// Found by folding the seed corpus and listing every changed character.
const KEEP_AS_IS: &[char] = &['么'];

fn convert(table: Table, text: &str) -> String {
    let Some(c) = converter(table) else {
        return text.to_string();
    };
    let converted = c.convert(text);
    if !text.contains(KEEP_AS_IS) || converted.chars().count() != text.chars().count() {
        return converted;
    }
    text.chars()
        .zip(converted.chars())
        .map(|(orig, new)| {
            if KEEP_AS_IS.contains(&orig) {
                orig
            } else {
                new
            }
        })
        .collect()
}

/// Converts traditional Chinese (Taiwan and Hong Kong forms included) to simplified Chinese
/// with OpenCC's character and phrase tables (no vocabulary substitution).
pub fn to_simplified(text: &str) -> String {
    convert(Table::Script, text)
}

/// Converts so that every output char maps back to one original char: Han runs are converted
/// whole (phrase tables need context); a run whose length changes is converted char by char
/// with the script table instead.
fn convert_same_length(table: Table, text: &str) -> Vec<char> {
    let mut out = Vec::with_capacity(text.len() / 2);
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut Vec<char>| {
        if run.is_empty() {
            return;
        }
        let converted: Vec<char> = convert(table, run).chars().collect();
        if converted.len() == run.chars().count() {
            out.extend(converted);
        } else {
            for c in run.chars() {
                let one: Vec<char> = to_simplified(c.encode_utf8(&mut [0; 4])).chars().collect();
                out.push(if one.len() == 1 { one[0] } else { c });
            }
        }
        run.clear();
    };
    for c in text.chars() {
        if is_han_char(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

fn fold_with(table: Table, text: &str) -> Folded {
    let converted = convert_same_length(table, text);
    let mut folded = String::with_capacity(text.len());
    let mut orig_offsets = Vec::with_capacity(converted.len() + 1);
    for ((offset, _), c) in text.char_indices().zip(converted) {
        folded.push(fold_char(c));
        orig_offsets.push(offset);
    }
    orig_offsets.push(text.len());
    Folded {
        text: folded,
        orig_offsets,
    }
}

std::thread_local! {
    /// Han char → its simplified form, learnt one char at a time (a few thousand entries).
    static CHAR_CACHE: std::cell::RefCell<std::collections::HashMap<char, char>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// A cheap [`fold`] for long texts on the search path (snippets): character by character
/// through a cache, without OpenCC's phrase tables. Running OpenCC over every hit's whole
/// body cost more than the search itself.
pub fn fold_chars(text: &str) -> Folded {
    let mut folded = String::with_capacity(text.len());
    let mut orig_offsets = Vec::with_capacity(text.len() / 2);
    CHAR_CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        for (offset, c) in text.char_indices() {
            let simple = if is_han_char(c) {
                *cache.entry(c).or_insert_with(|| {
                    let converted = convert(Table::Script, c.encode_utf8(&mut [0; 4]));
                    let mut one = converted.chars();
                    match (one.next(), one.next()) {
                        (Some(s), None) => s,
                        _ => c,
                    }
                })
            } else {
                c
            };
            folded.push(fold_char(simple));
            orig_offsets.push(offset);
        }
    });
    orig_offsets.push(text.len());
    Folded {
        text: folded,
        orig_offsets,
    }
}

/// Folds text for matching; see [`Folded`].
pub fn fold(text: &str) -> Folded {
    fold_with(Table::Script, text)
}

/// The Taiwan-vocabulary folding of `text` (網路 → 网络), when it differs from [`fold`].
/// Both are indexed so that simplified and traditional wording meet.
pub fn fold_vocabulary(text: &str, folded: &Folded) -> Option<Folded> {
    let changed = text
        .chars()
        .zip(folded.text.chars())
        .any(|(a, b)| is_han_char(a) && a != b);
    if !changed {
        return None;
    }
    let alt = fold_with(Table::Vocabulary, text);
    (alt.text != folded.text).then_some(alt)
}

/// True for tokens worth indexing: at least one letter, digit or ideograph.
fn is_content(word: &str) -> bool {
    word.chars().any(char::is_alphanumeric)
}

/// True when every char is a CJK ideograph.
pub fn is_han(word: &str) -> bool {
    !word.is_empty() && word.chars().all(is_han_char)
}

/// True for a CJK ideograph.
pub fn is_han_char(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// A segment of folded text: word, start and end char, and word position.
type Segment<'a> = (&'a str, usize, usize, usize);

/// Splits folded text into words the way jieba's search mode does (no HMM): each word of the
/// default cut, then its 2- and 3-character sub-words found in the dictionary, and the parts
/// of ASCII compounds joined by `-`, `.`, `_` or `/`. Sub-words share the position of their
/// word, so phrases are matched word by word, and offsets never go backwards.
fn segment<'a>(jieba: &Jieba, folded: &'a str) -> Vec<Segment<'a>> {
    let mut out = Vec::new();
    let mut position = 0;
    for t in jieba.cut(folded, false) {
        if !is_content(t.word) {
            continue;
        }
        out.push((t.word, t.start, t.end, position));
        let chars: Vec<(usize, char)> = t.word.char_indices().collect();
        let n = chars.len();
        let byte_at = |k: usize| chars.get(k).map(|(b, _)| *b).unwrap_or(t.word.len());
        if n > 2 && is_han(t.word) {
            let mut grams: Vec<(usize, usize)> = Vec::new();
            for len in [2, 3] {
                if n > len {
                    for i in 0..=n - len {
                        if jieba.has_word(&t.word[byte_at(i)..byte_at(i + len)]) {
                            grams.push((i, len));
                        }
                    }
                }
            }
            grams.sort();
            for (i, len) in grams {
                out.push((
                    &t.word[byte_at(i)..byte_at(i + len)],
                    t.start + i,
                    t.start + i + len,
                    position,
                ));
            }
        } else if t.word.contains(['-', '.', '_', '/']) {
            let mut offset = 0;
            for part in t.word.split(['-', '.', '_', '/']) {
                if part.len() >= 2 && part.bytes().any(|b| b.is_ascii_alphabetic()) {
                    let start = t.start + t.word[..offset].chars().count();
                    out.push((part, start, start + part.chars().count(), position));
                }
                offset += part.len() + 1;
            }
        }
        position += 1;
    }
    out
}

/// Tantivy tokenizer: fold + jieba search-mode segmentation. Stemming is added as a filter by
/// [`build_text_analyzer`].
#[derive(Clone)]
pub struct ZhEnTokenizer {
    jieba: Arc<Jieba>,
    tokens: Vec<Token>,
}

impl ZhEnTokenizer {
    /// A tokenizer sharing the given segmenter (with its user dictionary).
    pub fn new(jieba: Arc<Jieba>) -> Self {
        ZhEnTokenizer {
            jieba,
            tokens: Vec::new(),
        }
    }
}

/// Token stream over a pre-computed vector of tokens.
pub struct VecTokenStream<'a> {
    tokens: &'a mut Vec<Token>,
    next: usize,
}

impl TokenStream for VecTokenStream<'_> {
    fn advance(&mut self) -> bool {
        if self.next < self.tokens.len() {
            self.next += 1;
            true
        } else {
            false
        }
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next.saturating_sub(1)]
    }

    fn token_mut(&mut self) -> &mut Token {
        let i = self.next.saturating_sub(1);
        &mut self.tokens[i]
    }
}

impl Tokenizer for ZhEnTokenizer {
    type TokenStream<'a> = VecTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream<'a> {
        self.tokens.clear();
        let folded = fold(text);
        let primary = segment(&self.jieba, &folded.text);
        let mut tokens: Vec<Token> = primary
            .iter()
            .map(|(word, start, end, position)| Token {
                offset_from: folded.orig_offsets[*start],
                offset_to: folded.orig_offsets[*end],
                position: *position,
                text: (*word).to_string(),
                position_length: 1,
            })
            .collect();
        if let Some(alt) = fold_vocabulary(text, &folded) {
            for (word, start, end, _) in segment(&self.jieba, &alt.text) {
                let duplicate = primary
                    .iter()
                    .any(|(w, s, e, _)| *w == word && *s == start && *e == end);
                if duplicate {
                    continue;
                }
                // Same position as the primary word the variant starts in.
                let position = primary
                    .iter()
                    .filter(|(_, s, _, _)| *s <= start)
                    .map(|(_, _, _, p)| *p)
                    .max()
                    .unwrap_or(0);
                tokens.push(Token {
                    offset_from: alt.orig_offsets[start],
                    offset_to: alt.orig_offsets[end],
                    position,
                    text: word.to_string(),
                    position_length: 1,
                });
            }
            tokens.sort_by_key(|t| (t.position, t.offset_from));
        }
        self.tokens = tokens;
        if self.tokens.is_empty() {
            // Tantivy's `token()` must never be called on an empty stream, but keep a
            // placeholder so indexing into `tokens` is always in bounds.
            self.tokens.push(Token::default());
            return VecTokenStream {
                tokens: &mut self.tokens,
                next: usize::MAX,
            };
        }
        VecTokenStream {
            tokens: &mut self.tokens,
            next: 0,
        }
    }
}

/// The complete analyzer registered in the index: [`ZhEnTokenizer`] + long-token removal +
/// English stemmer (the stemmer leaves Chinese tokens untouched).
pub fn build_text_analyzer(jieba: Arc<Jieba>) -> TextAnalyzer {
    TextAnalyzer::builder(ZhEnTokenizer::new(jieba))
        .filter(RemoveLongFilter::limit(64))
        .filter(Stemmer::new(Language::English))
        .build()
}

/// A token produced for a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryToken {
    /// Analyzed (indexed) form.
    pub text: String,
    /// Token position, as in the index.
    pub position: usize,
    /// Byte range in the original query.
    pub offset_from: usize,
    /// End of the byte range in the original query.
    pub offset_to: usize,
}

/// Runs the analyzer on a piece of text and collects the tokens.
pub fn analyze(analyzer: &TextAnalyzer, text: &str) -> Vec<QueryToken> {
    let mut analyzer = analyzer.clone();
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while let Some(token) = stream.next() {
        out.push(QueryToken {
            text: token.text.clone(),
            position: token.position,
            offset_from: token.offset_from,
            offset_to: token.offset_to,
        });
    }
    out
}

/// Words of the query in default (non-search) jieba mode over folded text, Han words only.
/// Used for homophone candidates.
pub fn default_cut_words(jieba: &Jieba, text: &str) -> Vec<String> {
    let folded = fold(text);
    jieba
        .cut(&folded.text, false)
        .into_iter()
        .map(|t| t.word.to_string())
        .collect()
}

/// Call-center words jieba's general dictionary lacks or splits (工单 became 工 + 单: two
/// single characters matching most of a knowledge base, slow and noisy). Added to every new
/// index build with the user's words, and stored with them, so an index opened later uses
/// exactly the dictionary it was built with.
pub const DOMAIN_WORDS: &[&str] = &[
    "工单",
    "派单",
    "坐席",
    "座席",
    "话务员",
    "质检",
    "外呼",
    "呼入",
    "呼出",
    "话术",
    "客诉",
    "回拨",
    "回访",
    "移机",
    "报修",
    "光猫",
    "接通率",
    "满意度",
    "首问负责",
    "话后处理",
    "催缴",
    "欠费停机",
    "复机",
    "销户",
    "改签",
    "退订",
    "来电",
    "去电",
    "致电",
    "语音导航",
    "人工服务",
    "自助服务",
    "排班",
    "断网",
    "致歉",
    "结束语",
    "问候语",
    "转接",
    "升级投诉",
];

/// The words a new index is built with: [`DOMAIN_WORDS`] then the user's, without repeats.
pub fn dictionary_words(user_words: &[String]) -> Vec<String> {
    let mut words: Vec<String> = DOMAIN_WORDS.iter().map(|w| w.to_string()).collect();
    for w in user_words {
        if !words.contains(w) {
            words.push(w.clone());
        }
    }
    words
}

/// Builds a jieba segmenter with its embedded dictionary plus user words.
pub fn build_jieba(user_words: &[String]) -> Jieba {
    let mut jieba = Jieba::new();
    for word in user_words {
        let word = fold(word.trim()).text;
        if !word.is_empty() {
            jieba.add_word(&word, None, None);
        }
    }
    jieba
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(analyzer: &TextAnalyzer, s: &str) -> Vec<String> {
        analyze(analyzer, s).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn traditional_is_folded_to_simplified() {
        assert_eq!(to_simplified("們"), "们");
        assert_eq!(to_simplified("話"), "话");
        assert_eq!(fold("帳號").text, "账号");
        assert_eq!(fold("帐号").text, "账号");
        assert_eq!(to_simplified("費"), "费");
        assert_eq!(to_simplified("熱線人員上崗培訓"), "热线人员上岗培训");
        assert_eq!(to_simplified("著急"), "着急");
        assert_eq!(fold("請重設帳號密碼").text, "请重设账号密码");
    }

    #[test]
    fn call_center_words_stay_whole_with_the_domain_dictionary() {
        let plain = build_text_analyzer(Arc::new(build_jieba(&[])));
        let domain = build_text_analyzer(Arc::new(build_jieba(&dictionary_words(&[]))));
        assert!(!texts(&plain, "工单").contains(&"工单".to_string()));
        assert_eq!(texts(&domain, "工单"), ["工单"]);
        assert!(texts(&domain, "工單取消").contains(&"工单".to_string()));
        // User words come after the built-in ones, once.
        let words = dictionary_words(&["星辰套餐".to_string(), "工单".to_string()]);
        assert_eq!(words.len(), DOMAIN_WORDS.len() + 1);
    }

    #[test]
    fn simplified_question_words_survive_folding() {
        // OpenCC alone turns 什么 into 什幺.
        assert_eq!(fold("什么是呼叫中心").text, "什么是呼叫中心");
        assert_eq!(to_simplified("为什么"), "为什么");
        assert_eq!(fold("什麼是呼叫中心").text, "什么是呼叫中心");
        let a = build_text_analyzer(Arc::new(build_jieba(&[])));
        assert!(texts(&a, "有什么作用").contains(&"什么".to_string()));
    }

    #[test]
    fn char_folding_agrees_with_fold_on_characters() {
        for text in [
            "請重設帳號密碼",
            "什么是呼叫中心",
            "客戶投訴ＡＢ c",
            "網路斷線",
        ] {
            let (a, b) = (fold(text), fold_chars(text));
            assert_eq!(a.text, b.text, "{text}");
            assert_eq!(a.orig_offsets, b.orig_offsets, "{text}");
        }
    }

    #[test]
    fn fold_keeps_offsets_into_original() {
        let f = fold("帳號ＡＢ c");
        assert_eq!(f.text, "账号ab c");
        assert_eq!(f.orig_offsets, vec![0, 3, 6, 9, 12, 13, 14]);
    }

    #[test]
    fn traditional_and_simplified_analyze_the_same() {
        let a = build_text_analyzer(Arc::new(build_jieba(&[])));
        assert_eq!(texts(&a, "重設帳號密碼"), texts(&a, "重设账号密码"));
        assert!(texts(&a, "客戶投訴").contains(&"投诉".to_string()));
    }

    #[test]
    fn taiwan_vocabulary_is_indexed_beside_the_script_conversion() {
        let a = build_text_analyzer(Arc::new(build_jieba(&[])));
        let words = texts(&a, "網路斷線，簡訊登入");
        for w in ["网路", "网络", "短信", "登录"] {
            assert!(words.contains(&w.to_string()), "{w} missing from {words:?}");
        }
        let tokens = analyze(&a, "網路斷線");
        let net = tokens
            .iter()
            .find(|t| t.text == "网络")
            .map(|t| (t.position, t.offset_from, t.offset_to));
        let raw = tokens
            .iter()
            .find(|t| t.text == "网路")
            .map(|t| (t.position, t.offset_from, t.offset_to));
        assert_eq!(net, raw);
        assert!(!texts(&a, "资料").contains(&"数据".to_string()));
    }

    #[test]
    fn search_mode_emits_sub_words_and_offsets_point_at_original() {
        let a = build_text_analyzer(Arc::new(build_jieba(&[])));
        let text = "客戶滿意度";
        let tokens = analyze(&a, text);
        let words: Vec<&str> = tokens.iter().map(|t| t.text.as_str()).collect();
        assert!(words.contains(&"满意"), "{words:?}");
        assert!(words.contains(&"满意度"), "{words:?}");
        let full = tokens
            .iter()
            .find(|t| t.text == "满意度")
            .map(|t| &text[t.offset_from..t.offset_to]);
        assert_eq!(full, Some("滿意度"));
    }

    #[test]
    fn offsets_never_go_backwards_and_sub_words_share_the_word_position() {
        let a = build_text_analyzer(Arc::new(build_jieba(&[])));
        let tokens = analyze(&a, "中华人民共和国的網路客户满意度");
        for pair in tokens.windows(2) {
            assert!(pair[0].offset_from <= pair[1].offset_from, "{tokens:?}");
            assert!(pair[0].position <= pair[1].position, "{tokens:?}");
        }
        let pos = |w: &str| tokens.iter().find(|t| t.text == w).map(|t| t.position);
        assert_eq!(pos("满意"), pos("满意度"));
        assert_eq!(pos("网络"), pos("网路"));
        assert_eq!(pos("客户").map(|p| p + 1), pos("满意度"));
    }

    #[test]
    fn english_is_lowercased_and_stemmed_and_punctuation_dropped() {
        let a = build_text_analyzer(Arc::new(build_jieba(&[])));
        let words = texts(&a, "Refunds, PASSWORDS; resetting!");
        assert_eq!(words, vec!["refund", "password", "reset"]);
        assert_eq!(texts(&a, "refund"), texts(&a, "refunds"));
    }

    #[test]
    fn mixed_text_keeps_english_and_chinese() {
        let a = build_text_analyzer(Arc::new(build_jieba(&[])));
        let words = texts(&a, "iPhone的OTP验证码");
        assert!(words.contains(&"iphon".to_string()) || words.contains(&"iphone".to_string()));
        assert!(words.contains(&"otp".to_string()), "{words:?}");
        assert!(words.contains(&"验证码".to_string()), "{words:?}");
    }

    #[test]
    fn user_dictionary_keeps_domain_words_whole() {
        let plain = build_text_analyzer(Arc::new(build_jieba(&[])));
        let word = "畅享套餐";
        assert!(!texts(&plain, word).contains(&word.to_string()));
        let with_dict = build_text_analyzer(Arc::new(build_jieba(&[word.to_string()])));
        assert!(texts(&with_dict, word).contains(&word.to_string()));
    }

    #[test]
    fn empty_and_punctuation_only_give_no_tokens() {
        let a = build_text_analyzer(Arc::new(build_jieba(&[])));
        assert!(texts(&a, "").is_empty());
        assert!(texts(&a, " ，。!? ").is_empty());
    }
}
