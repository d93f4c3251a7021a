//! Synonyms and paraphrases maintained by the knowledge-base editors.
//!
//! Agents ask in their own words ("电话打不通", "挂电话前说什么", "what to say when answering")
//! while articles use the center's vocabulary (难拨, 结束语, 接听电话用语). A table of rules,
//! one per line, in the format Solr and Elasticsearch editors already know:
//!
//! * `a, b, c` — equivalent expressions: a query containing one is expanded with the others;
//! * `a, b => c, d` — a query containing `a` or `b` is expanded with `c` and `d` only.
//!
//! `#` starts a comment. Expressions are folded like the index (traditional → simplified,
//! lowercase), so one rule serves both scripts. Chinese expressions match anywhere in the
//! query (agents type without spaces); Latin ones match whole words.
//!
//! Expansions are extra, lower-weighted clauses: they never remove what the agent typed.

use crate::analyzer::{fold, is_han_char};

/// The table shipped with the app (call-center vocabulary, Chinese and English). Editors add
/// rules of their own with `synonyms.txt` beside the imported articles.
pub const BUILT_IN: &str = include_str!("synonyms.txt");

/// One parsed rule.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    /// Folded expressions that trigger the rule.
    from: Vec<String>,
    /// Folded expressions added to the query.
    to: Vec<String>,
}

/// A bad line of a synonyms file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("synonyms line {line}: {reason}")]
pub struct SynonymError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// A set of synonym rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SynonymTable {
    rules: Vec<Rule>,
}

fn normalize(expression: &str) -> String {
    fold(expression.trim()).text.to_lowercase()
}

fn split_list(list: &str) -> Vec<String> {
    list.split([',', '，', '、'])
        .map(normalize)
        .filter(|e| !e.is_empty())
        .collect()
}

impl SynonymTable {
    /// The built-in table plus `extra` rules (editor files); bad lines of `extra` are returned
    /// and skipped, the rest still applies.
    pub fn with_built_in(extra: &str) -> (Self, Vec<SynonymError>) {
        // The built-in table is tested to parse cleanly.
        let (mut table, _) = Self::parse(BUILT_IN);
        let (more, errors) = Self::parse(extra);
        table.rules.extend(more.rules);
        (table, errors)
    }

    /// Parses rules; bad lines are reported and skipped.
    pub fn parse(text: &str) -> (Self, Vec<SynonymError>) {
        let mut rules = Vec::new();
        let mut errors = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let bad = |reason: &str| SynonymError {
                line: n + 1,
                reason: reason.to_string(),
            };
            let rule = match line.split_once("=>") {
                Some((from, to)) => Rule {
                    from: split_list(from),
                    to: split_list(to),
                },
                None => {
                    let all = split_list(line);
                    Rule {
                        from: all.clone(),
                        to: all,
                    }
                }
            };
            if rule.from.is_empty() || rule.to.is_empty() {
                errors.push(bad("needs expressions on both sides of `=>`"));
            } else if rule.to.len() < 2 && rule.from == rule.to {
                errors.push(bad("a list of equivalents needs at least two expressions"));
            } else {
                rules.push(rule);
            }
        }
        (SynonymTable { rules }, errors)
    }

    /// This table followed by the rules of `other`.
    pub fn merged(mut self, other: SynonymTable) -> Self {
        self.rules.extend(other.rules);
        self
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether the table has no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Expressions to add to `query`: `(matched expression, expansion)` pairs, each expansion
    /// once, never one the query already contains.
    pub fn expand(&self, query: &str) -> Vec<(String, String)> {
        let folded = normalize(query);
        let mut out: Vec<(String, String)> = Vec::new();
        for rule in &self.rules {
            let Some(matched) = rule.from.iter().find(|e| contains_expression(&folded, e)) else {
                continue;
            };
            for to in &rule.to {
                if contains_expression(&folded, to) || out.iter().any(|(_, t)| t == to) {
                    continue;
                }
                out.push((matched.clone(), to.clone()));
            }
        }
        out
    }
}

/// Han expressions match as substrings; Latin ones on word boundaries ("hold" must not fire
/// inside "holder", "call" not inside "callback").
fn contains_expression(text: &str, expression: &str) -> bool {
    if expression.chars().any(is_han_char) {
        return text.contains(expression);
    }
    let is_word = |c: char| c.is_alphanumeric() && !is_han_char(c);
    let mut start = 0;
    while let Some(found) = text[start..].find(expression) {
        let at = start + found;
        let end = at + expression.len();
        let before_ok = text[..at].chars().next_back().is_none_or(|c| !is_word(c));
        let after_ok = text[end..].chars().next().is_none_or(|c| !is_word(c));
        if before_ok && after_ok {
            return true;
        }
        start = at + expression.chars().next().map_or(1, char::len_utf8);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_table_parses_without_errors() {
        let (table, errors) = SynonymTable::parse(BUILT_IN);
        assert!(errors.is_empty(), "{errors:?}");
        assert!(table.len() > 50, "{} rules", table.len());
    }

    #[test]
    fn equivalents_expand_both_ways_and_fold_scripts() {
        let (table, errors) = SynonymTable::parse("退款, 退钱\n");
        assert!(errors.is_empty());
        assert_eq!(
            table.expand("客户要退钱"),
            vec![("退钱".to_string(), "退款".to_string())]
        );
        assert_eq!(
            table.expand("退款多久到账"),
            vec![("退款".to_string(), "退钱".to_string())]
        );
        // Traditional query, simplified rule.
        let (table, _) = SynonymTable::parse("投诉, 客诉\n");
        assert_eq!(
            table.expand("客訴處理"),
            vec![("客诉".to_string(), "投诉".to_string())]
        );
    }

    #[test]
    fn explicit_mappings_go_one_way() {
        let (table, _) = SynonymTable::parse("打不通, 难打 => 难拨, 接通率\n");
        assert_eq!(
            table.expand("电话打不通"),
            vec![
                ("打不通".to_string(), "难拨".to_string()),
                ("打不通".to_string(), "接通率".to_string())
            ]
        );
        assert!(table.expand("难拨").is_empty());
    }

    #[test]
    fn latin_expressions_match_whole_words_only() {
        let (table, _) = SynonymTable::parse("hold => 稍等\ngreeting, greet => 问候语\n");
        assert_eq!(table.expand("put the caller on hold").len(), 1);
        assert!(table.expand("account holder").is_empty());
        assert_eq!(table.expand("Greeting script")[0].1, "问候语");
    }

    #[test]
    fn bad_lines_are_reported_and_skipped() {
        let (table, errors) = SynonymTable::parse("a =>\n=> b\nsolo\n退款, 退钱 # comment\n");
        assert_eq!(table.len(), 1);
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![1, 2, 3]);
    }

    #[test]
    fn extra_rules_add_to_the_built_in_table() {
        let (base, _) = SynonymTable::with_built_in("");
        let (more, errors) = SynonymTable::with_built_in("星辰套餐, 星辰卡\n");
        assert!(errors.is_empty());
        assert_eq!(more.len(), base.len() + 1);
        assert_eq!(more.expand("星辰卡")[0].1, "星辰套餐");
    }
}
