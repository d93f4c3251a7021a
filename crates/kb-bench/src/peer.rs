//! The peer: SQLite FTS5 over jieba-pre-segmented text (the approach measured in the notes).
//!
//! Title and body are segmented with jieba's search mode (no HMM), lowercased and joined with
//! spaces, so FTS5's `unicode61` tokenizer sees one token per word. A query is segmented the
//! same way, stop words dropped, and its tokens joined with OR; hits are ordered by bm25 and come
//! with an FTS5 snippet, as Seatline's hits come with one. No traditional→simplified folding,
//! prefix completion or homophone correction: that is the plain approach Seatline is compared to.

use std::path::Path;

use jieba_rs::Jieba;
use rusqlite::{params, Connection};
use seatline_kb_search::Article;

/// Query words every article contains; the same idea as Seatline's stop list.
const STOP_WORDS: &[&str] = &[
    "的",
    "了",
    "吗",
    "呢",
    "吧",
    "啊",
    "是",
    "我",
    "你",
    "您",
    "怎么",
    "怎么办",
    "怎样",
    "如何",
    "什么",
    "为什么",
    "请问",
    "可以",
    "能",
    "要",
    "在",
    "和",
    "与",
    "把",
    "被",
    "给",
    "一下",
    "这",
    "那",
    "就",
    "都",
    "也",
    "还",
    "會",
    "怎麼",
    "什麼",
    "a",
    "an",
    "the",
    "how",
    "to",
    "of",
    "is",
    "are",
    "what",
    "can",
    "my",
    "for",
    "in",
    "on",
    "and",
    "or",
];

/// Words of `text` as FTS5 should see them.
pub fn segment(jieba: &Jieba, text: &str) -> Vec<String> {
    jieba
        .cut_for_search(text, false)
        .into_iter()
        .filter(|t| t.word.chars().any(char::is_alphanumeric))
        .map(|t| t.word.to_lowercase())
        .collect()
}

/// The FTS5 MATCH expression for a query (None when nothing searchable is left).
pub fn match_expression(jieba: &Jieba, query: &str) -> Option<String> {
    let mut words: Vec<String> = Vec::new();
    for w in segment(jieba, query) {
        if !STOP_WORDS.contains(&w.as_str()) && !words.contains(&w) {
            words.push(w);
        }
    }
    if words.is_empty() {
        return None;
    }
    // Quoted strings, so no word is read as FTS5 syntax (AND, NEAR, column filters, `-`).
    let quoted: Vec<String> = words
        .iter()
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect();
    Some(quoted.join(" OR "))
}

/// An FTS5 index in one SQLite file.
pub struct Fts5Peer {
    conn: Connection,
    jieba: Jieba,
}

/// One peer hit (what the app would show).
#[derive(Debug, Clone)]
pub struct PeerHit {
    /// Article id.
    pub id: String,
    /// Title (segmented).
    pub title: String,
    /// FTS5 snippet of the body.
    pub snippet: String,
}

impl Fts5Peer {
    /// Creates the database at `path` and indexes `articles` in one transaction, then merges
    /// the FTS5 segments (`optimize`), as Seatline's build waits for its merges.
    pub fn build(path: &Path, articles: &[Article]) -> rusqlite::Result<Self> {
        let mut conn = Connection::open(path)?;
        conn.execute_batch(
            "CREATE VIRTUAL TABLE kb USING fts5(id UNINDEXED, title, body, tokenize = 'unicode61');",
        )?;
        let jieba = Jieba::new();
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare("INSERT INTO kb (id, title, body) VALUES (?1, ?2, ?3)")?;
            for a in articles {
                let title = segment(&jieba, &a.title).join(" ");
                let body = segment(&jieba, &a.body).join(" ");
                insert.execute(params![a.id, title, body])?;
            }
        }
        tx.commit()?;
        conn.execute_batch("INSERT INTO kb (kb) VALUES ('optimize');")?;
        Ok(Fts5Peer { conn, jieba })
    }

    /// Opens an existing database (startup of the app).
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        let conn = Connection::open(path)?;
        conn.query_row("SELECT count(*) FROM kb WHERE kb MATCH '\"x\"'", [], |r| {
            r.get::<_, i64>(0)
        })?;
        Ok(Fts5Peer {
            conn,
            jieba: Jieba::new(),
        })
    }

    /// Replaces the text of the article in `row` (its rowid: build order from 1), as the app
    /// would with an id → rowid map, in its own transaction.
    pub fn replace(&mut self, row: i64, article: &Article) -> rusqlite::Result<()> {
        let title = segment(&self.jieba, &article.title).join(" ");
        let body = segment(&self.jieba, &article.body).join(" ");
        self.conn.execute(
            "UPDATE kb SET id = ?1, title = ?2, body = ?3 WHERE rowid = ?4",
            params![article.id, title, body, row],
        )?;
        Ok(())
    }

    /// The best `limit` articles for `query` by bm25.
    pub fn search(&self, query: &str, limit: usize) -> rusqlite::Result<Vec<PeerHit>> {
        let Some(expr) = match_expression(&self.jieba, query) else {
            return Ok(Vec::new());
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, title, snippet(kb, 2, '<mark>', '</mark>', '…', 16) FROM kb \
             WHERE kb MATCH ?1 ORDER BY bm25(kb) LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![expr, limit as i64], |row| {
            Ok(PeerHit {
                id: row.get(0)?,
                title: row.get(1)?,
                snippet: row.get(2)?,
            })
        })?;
        let hits = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(hits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_expression_quotes_words_and_drops_stop_words() {
        let jieba = Jieba::new();
        let expr = match_expression(&jieba, "怎么办理信用卡").unwrap_or_default();
        assert!(expr.contains("\"信用卡\""), "{expr}");
        assert!(expr.contains(" OR "), "{expr}");
        assert!(!expr.contains("怎么"), "{expr}");
        assert_eq!(match_expression(&jieba, "怎么？"), None);
        assert_eq!(
            match_expression(&jieba, "say \"NEAR\"").as_deref(),
            Some("\"say\" OR \"near\"")
        );
    }
}
