//! Index vocabulary: every analyzed term of the title and body fields with its document
//! frequency, a sorted list for prefix completion, and a toneless-pinyin → words map for
//! IME homophone correction (排版 → 排班, 投述 → 投诉).
//!
//! Keys use "fuzzy pinyin" as Chinese IMEs offer it: zh/ch/sh = z/c/s and -ang/-eng/-ing =
//! -an/-en/-in, because these are the confusions that produce wrong-but-similar words
//! (述 shu typed for 诉 su). Exact-pinyin matches rank before fuzzy ones.

use std::collections::HashMap;

use pinyin::ToPinyinMulti;

use crate::analyzer::is_han;

/// Most pinyin readings generated for one word (heteronyms multiply).
const MAX_READINGS: usize = 8;

/// All toneless pinyin readings of a Han word, space-separated syllables, at most
/// [`MAX_READINGS`]. Empty if a char has no reading.
pub fn pinyin_keys(word: &str) -> Vec<String> {
    let mut keys: Vec<String> = vec![String::new()];
    for c in word.chars() {
        let Some(multi) = c.to_pinyin_multi() else {
            return Vec::new();
        };
        let mut readings: Vec<&str> = Vec::new();
        for p in multi {
            let plain = p.plain();
            if !readings.contains(&plain) {
                readings.push(plain);
            }
        }
        let mut next = Vec::new();
        for prefix in &keys {
            for r in &readings {
                if next.len() >= MAX_READINGS {
                    break;
                }
                let mut k = prefix.clone();
                if !k.is_empty() {
                    k.push(' ');
                }
                k.push_str(r);
                next.push(k);
            }
        }
        keys = next;
    }
    keys.sort();
    keys.dedup();
    keys
}

/// Fuzzy form of one toneless syllable (see the module doc).
fn fuzzy_syllable(s: &str) -> String {
    let s = if let Some(rest) = s.strip_prefix("zh") {
        format!("z{rest}")
    } else if let Some(rest) = s.strip_prefix("ch") {
        format!("c{rest}")
    } else if let Some(rest) = s.strip_prefix("sh") {
        format!("s{rest}")
    } else {
        s.to_string()
    };
    match s.strip_suffix("ng") {
        Some(stem) if stem.ends_with(['a', 'e', 'i']) => stem.to_string() + "n",
        _ => s,
    }
}

/// Fuzzy form of a space-separated pinyin key.
pub fn fuzzy_key(key: &str) -> String {
    key.split(' ')
        .map(fuzzy_syllable)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Terms of the index and derived lookup tables.
#[derive(Debug, Default, Clone)]
pub struct Vocabulary {
    doc_freq: HashMap<String, u32>,
    sorted: Vec<String>,
    by_pinyin: HashMap<String, Vec<String>>,
}

impl Vocabulary {
    /// Builds the tables from (term, document frequency) pairs; a term seen in several fields
    /// keeps the highest frequency.
    pub fn from_terms(terms: impl IntoIterator<Item = (String, u32)>) -> Self {
        let mut doc_freq: HashMap<String, u32> = HashMap::new();
        for (term, df) in terms {
            let e = doc_freq.entry(term).or_insert(0);
            *e = (*e).max(df);
        }
        let mut sorted: Vec<String> = doc_freq.keys().cloned().collect();
        sorted.sort();
        let mut by_pinyin: HashMap<String, Vec<String>> = HashMap::new();
        for term in &sorted {
            let n = term.chars().count();
            if (2..=4).contains(&n) && is_han(term) {
                let mut keys: Vec<String> =
                    pinyin_keys(term).iter().map(|k| fuzzy_key(k)).collect();
                keys.dedup();
                for key in keys {
                    let words = by_pinyin.entry(key).or_default();
                    if !words.contains(term) {
                        words.push(term.clone());
                    }
                }
            }
        }
        for words in by_pinyin.values_mut() {
            words.sort_by(|a, b| {
                let fa = doc_freq.get(a).copied().unwrap_or(0);
                let fb = doc_freq.get(b).copied().unwrap_or(0);
                fb.cmp(&fa).then_with(|| a.cmp(b))
            });
        }
        Vocabulary {
            doc_freq,
            sorted,
            by_pinyin,
        }
    }

    /// Number of distinct terms.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// True when the index has no terms.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// True if the analyzed term occurs in the index.
    pub fn contains(&self, term: &str) -> bool {
        self.doc_freq.contains_key(term)
    }

    /// Document frequency of a term (0 if absent).
    pub fn doc_freq(&self, term: &str) -> u32 {
        self.doc_freq.get(term).copied().unwrap_or(0)
    }

    /// Up to `max` longer terms starting with `prefix`, most frequent first.
    pub fn completions(&self, prefix: &str, max: usize) -> Vec<String> {
        if prefix.is_empty() || max == 0 {
            return Vec::new();
        }
        let start = self.sorted.partition_point(|t| t.as_str() < prefix);
        let mut found: Vec<&String> = self.sorted[start..]
            .iter()
            .take_while(|t| t.starts_with(prefix))
            .filter(|t| t.as_str() != prefix)
            .collect();
        found.sort_by(|a, b| {
            self.doc_freq(b)
                .cmp(&self.doc_freq(a))
                .then_with(|| a.cmp(b))
        });
        found.into_iter().take(max).cloned().collect()
    }

    /// Index words that sound like `word` (same fuzzy toneless pinyin), excluding `word`
    /// itself; exact-pinyin matches first, then by document frequency; at most `max`.
    pub fn homophones(&self, word: &str, max: usize) -> Vec<String> {
        let exact_keys = pinyin_keys(word);
        let mut out: Vec<(bool, u32, String)> = Vec::new();
        for key in &exact_keys {
            if let Some(words) = self.by_pinyin.get(&fuzzy_key(key)) {
                for w in words {
                    if w != word && !out.iter().any(|(_, _, o)| o == w) {
                        let exact = pinyin_keys(w).iter().any(|k| exact_keys.contains(k));
                        out.push((exact, self.doc_freq(w), w.clone()));
                    }
                }
            }
        }
        out.sort_by(|a, b| {
            b.0.cmp(&a.0)
                .then(b.1.cmp(&a.1))
                .then_with(|| a.2.cmp(&b.2))
        });
        out.into_iter().take(max).map(|(_, _, w)| w).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinyin_keys_are_toneless_and_cover_heteronyms() {
        assert!(pinyin_keys("排班").contains(&"pai ban".to_string()));
        assert!(pinyin_keys("排版").contains(&"pai ban".to_string()));
        assert!(pinyin_keys("投诉").contains(&"tou su".to_string()));
        assert!(pinyin_keys("重置").contains(&"chong zhi".to_string()));
        assert!(pinyin_keys("abc").is_empty());
        assert_eq!(fuzzy_key("tou shu"), "tou su");
        assert_eq!(fuzzy_key("zhang cheng ying"), "zan cen yin");
    }

    #[test]
    fn homophones_and_completions() {
        let v = Vocabulary::from_terms(vec![
            ("排班".to_string(), 3),
            ("投诉".to_string(), 5),
            ("投入".to_string(), 1),
            ("refund".to_string(), 2),
            ("refus".to_string(), 1),
        ]);
        assert_eq!(v.homophones("排版", 3), vec!["排班"]);
        assert_eq!(v.homophones("投述", 3), vec!["投诉"]);
        assert_eq!(v.homophones("偷诉", 3), vec!["投诉"]);
        assert!(v.homophones("排班", 3).is_empty());
        assert_eq!(v.completions("ref", 5), vec!["refund", "refus"]);
        assert_eq!(v.completions("投", 5), vec!["投诉", "投入"]);
        assert!(v.contains("投诉"));
        assert_eq!(v.len(), 5);
    }
}
