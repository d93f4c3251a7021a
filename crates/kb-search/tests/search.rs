//! Behaviour of import, indexing and search on the crate's own small corpus.

// Test helpers outside #[test] functions unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};

use seatline_kb_search::{Article, IndexOptions, KbIndex, Lang, SearchFilter};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

fn corpus_index() -> KbIndex {
    let kb = KbIndex::in_memory(IndexOptions::default()).unwrap();
    let report = kb.import_dir(&corpus_dir()).unwrap();
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    kb
}

fn top_ids(kb: &KbIndex, query: &str, n: usize) -> Vec<String> {
    kb.search(query, n)
        .unwrap()
        .into_iter()
        .map(|h| h.id)
        .collect()
}

fn article(id: &str, title: &str, body: &str) -> Article {
    Article {
        id: id.into(),
        title: title.into(),
        body: body.into(),
        tags: vec![],
        lang: Lang::En,
    }
}

#[test]
fn imports_the_whole_corpus() {
    let kb = KbIndex::in_memory(IndexOptions::default()).unwrap();
    let report = kb.import_dir(&corpus_dir()).unwrap();
    assert_eq!(report.imported.len(), 14);
    assert!(report.imported.contains(&"refund-tw".to_string()));
    assert_eq!(kb.num_docs(), 14);
}

#[test]
fn bad_files_are_reported_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("good.md"),
        "# Refund\n\nHow to refund a customer.",
    )
    .unwrap();
    fs::write(dir.path().join("latin1.md"), b"# Caf\xe9\n\nbody").unwrap();
    fs::write(dir.path().join("notitle.md"), "just text\n\nmore").unwrap();
    fs::write(dir.path().join("empty.md"), "# Title only\n\n  \n").unwrap();
    fs::write(dir.path().join("ignored.txt"), "# Not markdown\n\nbody").unwrap();
    fs::create_dir(dir.path().join("folder.md")).unwrap();
    let kb = KbIndex::in_memory(IndexOptions::default()).unwrap();
    let report = kb.import_dir(dir.path()).unwrap();
    assert_eq!(report.imported, vec!["good"]);
    let mut skipped: Vec<(String, String)> = report
        .skipped
        .iter()
        .map(|s| (s.file.clone(), s.reason.clone()))
        .collect();
    skipped.sort();
    assert_eq!(skipped.len(), 4);
    assert_eq!(skipped[0].0, "empty.md");
    assert_eq!(skipped[0].1, "empty body");
    assert_eq!(skipped[1].0, "folder.md");
    assert!(skipped[1].1.starts_with("unreadable"), "{}", skipped[1].1);
    assert_eq!(skipped[2].0, "latin1.md");
    assert!(skipped[2].1.starts_with("not UTF-8"), "{}", skipped[2].1);
    assert_eq!(
        skipped[3],
        ("notitle.md".into(), "no `# Title` line".into())
    );
    assert_eq!(kb.num_docs(), 1);
}

#[test]
fn reimport_replaces_everything_and_a_failed_build_keeps_the_old_index() {
    let kb = corpus_index();
    assert_eq!(top_ids(&kb, "退款", 1), vec!["refund-policy"]);
    // Duplicate ids fail the build: the live index must be untouched.
    let dup = vec![article("a", "x", "refund"), article("a", "y", "refund")];
    assert!(kb.replace_all(&dup).is_err());
    assert_eq!(kb.num_docs(), 14);
    // An import with nothing importable keeps the index too.
    let bad = tempfile::tempdir().unwrap();
    fs::write(bad.path().join("x.md"), "no title").unwrap();
    let report = kb.import_dir(bad.path()).unwrap();
    assert_eq!(report.skipped.len(), 1);
    assert_eq!(kb.num_docs(), 14);
    // A good import replaces the whole index.
    kb.replace_all(&[article("only", "Only article", "nothing about money")])
        .unwrap();
    assert_eq!(kb.num_docs(), 1);
    assert!(kb.search("退款", 5).unwrap().is_empty());
}

#[test]
fn empty_or_whitespace_query_gives_no_hits() {
    let kb = corpus_index();
    assert!(kb.search("", 10).unwrap().is_empty());
    assert!(kb.search("   \t ", 10).unwrap().is_empty());
    assert!(kb.search("　", 10).unwrap().is_empty());
    assert!(kb.search("？！。", 10).unwrap().is_empty());
}

#[test]
fn simplified_query_finds_simplified_and_traditional_articles() {
    let kb = corpus_index();
    assert_eq!(
        top_ids(&kb, "客户投诉升级", 1),
        vec!["complaint-escalation"]
    );
    let ids = top_ids(&kb, "重设账号密码", 3);
    assert!(ids.contains(&"password-reset-tw".to_string()), "{ids:?}");
    let ids = top_ids(&kb, "信用卡退费", 1);
    assert_eq!(ids, vec!["refund-tw"]);
}

#[test]
fn traditional_query_finds_simplified_articles() {
    let kb = corpus_index();
    assert_eq!(top_ids(&kb, "帳單費用有誤", 1), vec!["billing-dispute"]);
    assert_eq!(top_ids(&kb, "網路故障話術", 1), vec!["network-outage"]);
    assert_eq!(top_ids(&kb, "坐席換班", 1), vec!["shift-scheduling"]);
}

#[test]
fn english_plurals_and_case_match() {
    let kb = corpus_index();
    assert_eq!(
        top_ids(&kb, "Complaints escalation", 1),
        vec!["complaint-en"]
    );
    assert_eq!(top_ids(&kb, "password reset", 1), vec!["password-reset-en"]);
    assert_eq!(top_ids(&kb, "outages", 1), vec!["network-outage-en"]);
    assert_eq!(top_ids(&kb, "disputed charges", 1), vec!["billing-en"]);
}

#[test]
fn question_style_queries() {
    let kb = corpus_index();
    assert_eq!(top_ids(&kb, "客户忘记密码怎么办？", 2).len(), 2);
    assert!(top_ids(&kb, "客户忘记密码怎么办？", 2).contains(&"password-reset".to_string()));
    assert_eq!(
        top_ids(&kb, "How do I reset a password?", 1),
        vec!["password-reset-en"]
    );
    assert_eq!(kb.plan("请问如何退款").unwrap().terms, vec!["退款"]);
}

#[test]
fn search_as_you_type_completes_the_last_token() {
    let kb = corpus_index();
    assert_eq!(top_ids(&kb, "passw", 1), vec!["password-reset-en"]);
    assert_eq!(top_ids(&kb, "escal", 1), vec!["complaint-en"]);
    let plan = kb.plan("outage scr").unwrap();
    assert!(plan.completions.contains(&"script".to_string()), "{plan:?}");
    // A finished word (trailing space) is not expanded.
    assert!(kb.plan("outage scr ").unwrap().completions.is_empty());
    // Chinese: the IME commits characters, so the last word may be a single character.
    let plan = kb.plan("换").unwrap();
    assert!(plan.completions.contains(&"换班".to_string()), "{plan:?}");
}

#[test]
fn homophone_typos_from_the_ime_are_corrected() {
    let kb = corpus_index();
    let plan = kb.plan("排版").unwrap();
    assert!(
        plan.homophones.contains(&("排版".into(), "排班".into())),
        "{plan:?}"
    );
    assert_eq!(top_ids(&kb, "排版", 1), vec!["shift-scheduling"]);
    assert_eq!(top_ids(&kb, "节假日排版", 1), vec!["shift-scheduling"]);

    let plan = kb.plan("客户投述").unwrap();
    assert!(
        plan.homophones.contains(&("投述".into(), "投诉".into())),
        "{plan:?}"
    );
    assert_eq!(top_ids(&kb, "投述", 1), vec!["complaint-escalation"]);
    // Correct words are not "corrected".
    assert!(kb.plan("投诉").unwrap().homophones.is_empty());
}

#[test]
fn snippets_highlight_matches_and_escape_html() {
    let kb = KbIndex::in_memory(IndexOptions::default()).unwrap();
    kb.replace_all(&[article(
        "html",
        "Refunds",
        "Type <b>refund</b> & \"quote\" in the form. Refunds take 3 days.",
    )])
    .unwrap();
    let hits = kb.search("refunds", 5).unwrap();
    assert_eq!(hits.len(), 1);
    let s = &hits[0].snippet;
    assert!(s.contains("&lt;b&gt;<mark>refund</mark>&lt;/b&gt;"), "{s}");
    assert!(s.contains("&amp;"), "{s}");
    assert!(s.contains("<mark>Refunds</mark>"), "{s}");
    assert!(!s.contains("<b>"), "{s}");
    assert_eq!(hits[0].title, "Refunds");
}

#[test]
fn snippets_highlight_the_original_traditional_text() {
    let kb = corpus_index();
    let hits = kb.search("账号密码", 5).unwrap();
    let tw = hits.iter().find(|h| h.id == "password-reset-tw").unwrap();
    assert!(tw.snippet.contains("<mark>帳號</mark>"), "{}", tw.snippet);
    assert_eq!(tw.title, "如何重設帳號密碼");
}

#[test]
fn directory_index_survives_reopen_and_keeps_its_user_dictionary() {
    let root = tempfile::tempdir().unwrap();
    let word = "畅享套餐";
    let options = IndexOptions {
        user_words: vec![word.to_string()],
        ..IndexOptions::default()
    };
    {
        let kb = KbIndex::open_or_create(root.path(), options.clone()).unwrap();
        assert_eq!(kb.num_docs(), 0);
        kb.replace_all(&[
            article("plan", "畅享套餐介绍", "畅享套餐包含每月三十G流量。"),
            article("other", "套餐变更", "变更套餐需要在月底前申请。"),
        ])
        .unwrap();
        assert!(kb.plan(word).unwrap().terms.contains(&word.to_string()));
    }
    let kb = KbIndex::open_or_create(root.path(), IndexOptions::default()).unwrap();
    assert_eq!(kb.num_docs(), 2);
    assert!(kb.plan(word).unwrap().terms.contains(&word.to_string()));
    assert_eq!(top_ids(&kb, word, 1), vec!["plan"]);
    let plain = KbIndex::in_memory(IndexOptions::default()).unwrap();
    assert!(!plain.plan(word).unwrap().terms.contains(&word.to_string()));
    // Rebuilding swaps generations and removes the old one.
    kb.replace_all(&[article("x", "Refund", "refund body")])
        .unwrap();
    let generations: Vec<_> = fs::read_dir(root.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("gen-"))
        .collect();
    assert_eq!(generations.len(), 1);
    drop(kb);
    let kb = KbIndex::open_or_create(root.path(), IndexOptions::default()).unwrap();
    assert_eq!(top_ids(&kb, "refund", 1), vec!["x"]);
}

#[test]
fn field_boosts_are_tunable() {
    let kb = KbIndex::in_memory(IndexOptions::default()).unwrap();
    kb.replace_all(&[
        article(
            "title-hit",
            "Refund",
            "Something else entirely about shipping and delivery.",
        ),
        article(
            "body-hit",
            "Shipping",
            "Refund refund refund, the refund desk handles it.",
        ),
    ])
    .unwrap();
    let mut config = kb.config();
    config.title_boost = 10.0;
    config.body_boost = 0.1;
    kb.set_config(config.clone()).unwrap();
    assert_eq!(top_ids(&kb, "refund", 1), vec!["title-hit"]);
    config.title_boost = 0.1;
    config.body_boost = 10.0;
    kb.set_config(config).unwrap();
    assert_eq!(top_ids(&kb, "refund", 1), vec!["body-hit"]);
}

#[test]
fn index_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<KbIndex>();
    let kb = std::sync::Arc::new(corpus_index());
    let handles: Vec<_> = ["退款", "password", "網路"]
        .into_iter()
        .map(|q| {
            let kb = kb.clone();
            std::thread::spawn(move || kb.search(q, 3).unwrap().len())
        })
        .collect();
    // Rebuild while the searches run; they see either the old or the new index, never a mix.
    kb.import_dir(&corpus_dir()).unwrap();
    for h in handles {
        assert!(h.join().unwrap() > 0);
    }
}

#[test]
fn an_article_is_fetched_by_id_as_imported() {
    let kb = corpus_index();
    let text = std::fs::read_to_string(corpus_dir().join("password-reset-tw.md")).unwrap();
    let article = kb.article("password-reset-tw").unwrap().unwrap();
    assert_eq!(article.id, "password-reset-tw");
    // The original traditional text comes back, not the folded form used for matching.
    assert!(text.contains(&article.title), "{}", article.title);
    assert!(text.contains(article.body.trim()));
    assert!(kb.article("no-such-article").unwrap().is_none());
}

fn tagged(id: &str, title: &str, body: &str, tags: &[&str], lang: Lang) -> Article {
    Article {
        tags: tags.iter().map(|t| t.to_string()).collect(),
        lang,
        ..article(id, title, body)
    }
}

#[test]
fn paraphrases_reach_the_articles_vocabulary() {
    let kb = KbIndex::in_memory(IndexOptions::default()).unwrap();
    kb.replace_all(&[
        article(
            "hard-to-reach",
            "热线难拨的应答",
            "客户抱怨热线难拨时，先致歉：让您久等了，实在很抱歉。",
        ),
        article("billing", "账单查询", "账单每月一日出账，可在营业厅查询。"),
    ])
    .unwrap();
    // The agent's words (打不通) are not in any article; the built-in table maps them.
    assert_eq!(top_ids(&kb, "客户说电话一直打不通", 1), ["hard-to-reach"]);
    let plan = kb.plan("电话打不通").unwrap();
    // 难拨 is two words to jieba, so it is searched as a phrase.
    assert!(
        plan.synonym_phrases
            .contains(&vec!["难".to_string(), "拨".to_string()]),
        "{plan:?}"
    );
    // English question over a Chinese article.
    assert_eq!(
        top_ids(&kb, "customer complains the line is busy, what to say", 1)[0],
        "hard-to-reach"
    );
}

#[test]
fn editors_synonyms_come_with_the_import_and_survive_reopen() {
    let articles = tempfile::tempdir().unwrap();
    fs::write(
        articles.path().join("plan.md"),
        "# 星辰套餐资费\n\n星辰套餐每月三十元，含二十G流量。",
    )
    .unwrap();
    fs::write(
        articles.path().join("synonyms.txt"),
        "# editors' rules\n星辰卡, 星辰套餐\nbroken line =>\n",
    )
    .unwrap();
    let root = tempfile::tempdir().unwrap();
    {
        let kb = KbIndex::open_or_create(root.path(), IndexOptions::default()).unwrap();
        let report = kb.import_dir(articles.path()).unwrap();
        assert_eq!(report.imported, ["plan"]);
        // The bad rule is reported, the good one applies.
        assert_eq!(report.skipped.len(), 1, "{:?}", report.skipped);
        assert!(
            report.skipped[0].reason.contains("line 3"),
            "{:?}",
            report.skipped
        );
        assert_eq!(top_ids(&kb, "星辰卡多少钱", 1), ["plan"]);
    }
    let kb = KbIndex::open_or_create(root.path(), IndexOptions::default()).unwrap();
    assert_eq!(top_ids(&kb, "星辰卡多少钱", 1), ["plan"]);
    // The app's own rules add to the built-in table too.
    let options = IndexOptions {
        synonyms: "银河卡 => 星辰套餐\n".into(),
        ..IndexOptions::default()
    };
    let kb = KbIndex::open_or_create(root.path(), options).unwrap();
    assert_eq!(top_ids(&kb, "银河卡", 1), ["plan"]);
}

#[test]
fn filters_restrict_by_tag_and_language() {
    let kb = KbIndex::in_memory(IndexOptions::default()).unwrap();
    kb.replace_all(&[
        tagged(
            "refund-zh",
            "退款流程",
            "退款三个工作日到账。",
            &["billing"],
            Lang::ZhCn,
        ),
        tagged(
            "refund-tw",
            "退款流程",
            "退款三個工作日到帳。",
            &["billing", "tw"],
            Lang::ZhTw,
        ),
        tagged(
            "refund-en",
            "Refunds",
            "A refund (退款) takes three days.",
            &["billing"],
            Lang::En,
        ),
        tagged(
            "outage",
            "断网退款",
            "断网超过一天可申请退款。",
            &["network"],
            Lang::ZhCn,
        ),
    ])
    .unwrap();
    let ids = |filter: SearchFilter| -> Vec<String> {
        let mut ids: Vec<String> = kb
            .search_filtered("退款", 10, &filter)
            .unwrap()
            .into_iter()
            .map(|h| h.id)
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(SearchFilter::default()).len(), 4);
    assert_eq!(
        ids(SearchFilter {
            tags: vec!["network".into(), "tw".into()],
            lang: None
        }),
        ["outage", "refund-tw"]
    );
    assert_eq!(
        ids(SearchFilter {
            tags: vec!["billing".into()],
            lang: Some(Lang::En)
        }),
        ["refund-en"]
    );
    assert!(ids(SearchFilter {
        tags: vec!["nope".into()],
        lang: None
    })
    .is_empty());
}

#[test]
fn near_duplicate_articles_fold_under_the_best_hit() {
    let body = "客户来电反映宽带无法上网时，先确认光猫指示灯状态，再询问是否欠费停机，\
        最后远程检测线路。如线路正常，指导客户重启光猫和路由器；仍无法恢复的，登记报修工单，\
        告知客户维修人员将在二十四小时内上门，并留下回访电话。";
    let kb = KbIndex::in_memory(IndexOptions::default()).unwrap();
    kb.replace_all(&[
        article("outage", "宽带断网处理", body),
        article(
            "other",
            "宽带资费",
            "宽带套餐每月五十元，断网补偿按天计算。",
        ),
        article("outage-copy", "宽带无法上网", &format!("{body}（旧版）")),
    ])
    .unwrap();
    let hits = kb.search("宽带断网", 10).unwrap();
    let order: Vec<(&str, Option<&str>)> = hits
        .iter()
        .map(|h| (h.id.as_str(), h.duplicate_of.as_deref()))
        .collect();
    // Whichever copy ranks first represents the pair; the other follows it directly.
    let first = order
        .iter()
        .position(|(id, _)| id.starts_with("outage"))
        .unwrap();
    let (rep, _) = order[first];
    let (next, duplicate_of) = order[first + 1];
    assert!(next.starts_with("outage") && next != rep, "{order:?}");
    assert_eq!(duplicate_of, Some(rep));
    assert!(
        order.iter().filter(|(_, d)| d.is_some()).count() == 1,
        "{order:?}"
    );
}

/// `n` short articles holding "password" and "reset" apart (farther than the phrase slop).
fn apart_articles(n: usize) -> Vec<Article> {
    (0..n)
        .map(|i| {
            article(
                &format!("apart-{i:03}"),
                &format!("Note {i}"),
                "Password never shared; reset logged.",
            )
        })
        .collect()
}

/// A longer article holding the phrase "password reset".
fn together_article() -> Article {
    article(
        "together",
        "Note on accounts",
        "Help with a password reset today.",
    )
}

#[test]
fn the_query_phrase_lifts_the_article_holding_it_above_scattered_words() {
    let kb = KbIndex::in_memory(IndexOptions::default()).unwrap();
    // 90 articles rank above it on the words alone (each holds both words, in a shorter
    // text); the phrase only re-scores the best 100 candidates of the words, so it must reach
    // one that 90 others outrank and lift it.
    let mut articles = apart_articles(90);
    articles.push(together_article());
    kb.replace_all(&articles).unwrap();
    assert_eq!(top_ids(&kb, "password reset", 1), vec!["together"]);
    let mut config = kb.config();
    config.phrase_boost = 0.0;
    kb.set_config(config).unwrap();
    let words_only = top_ids(&kb, "password reset", 200);
    assert_eq!(
        words_only.iter().position(|id| id == "together"),
        Some(90),
        "on the words alone it ranks last: {words_only:?}"
    );
}

fn corpus_articles() -> Vec<Article> {
    (0..40)
        .map(|i| {
            article(
                &format!("a-{i:02}"),
                &format!("Topic {i}"),
                &format!("Billing note number {i}: invoices are sent monthly."),
            )
        })
        .collect()
}

#[test]
fn changes_in_place_replace_add_and_delete_articles_and_survive_a_reopen() {
    let root = tempfile::tempdir().unwrap();
    let kb = KbIndex::open_or_create(root.path(), IndexOptions::default()).unwrap();
    kb.replace_all(&corpus_articles()).unwrap();
    let build = kb.build_id();
    assert_eq!(kb.num_docs(), 40);
    assert!(top_ids(&kb, "refund voucher", 5).is_empty());

    kb.apply_changes(
        &[
            article(
                "a-03",
                "Topic 3",
                "Refund vouchers are issued within a week.",
            ),
            article(
                "new-1",
                "Parcel tracking",
                "Track the parcel with its waybill number.",
            ),
        ],
        &["a-07".to_string(), "no-such-article".to_string()],
    )
    .unwrap();
    assert_eq!(kb.build_id(), build, "an in-place change keeps the build");
    assert_eq!(
        kb.num_docs(),
        40,
        "40 + 1 new - 1 deleted (the unknown id is ignored)"
    );
    assert_eq!(top_ids(&kb, "refund voucher", 5), vec!["a-03"]);
    assert_eq!(top_ids(&kb, "waybill", 5), vec!["new-1"]);
    let billing = top_ids(&kb, "billing invoices", 100);
    assert_eq!(billing.len(), 38, "{billing:?}");
    assert!(!billing.iter().any(|id| id == "a-03" || id == "a-07"));
    // The words of a new article reach the typo correction too.
    assert_eq!(top_ids(&kb, "waybil", 5), vec!["new-1"]);

    drop(kb);
    let kb = KbIndex::open_or_create(root.path(), IndexOptions::default()).unwrap();
    assert_eq!(kb.num_docs(), 40);
    assert_eq!(kb.build_id(), build);
    assert_eq!(top_ids(&kb, "refund voucher", 5), vec!["a-03"]);
    assert!(top_ids(&kb, "billing invoices", 100)
        .iter()
        .all(|id| id != "a-07"));

    kb.replace_all(&corpus_articles()).unwrap();
    assert_ne!(kb.build_id(), build, "a whole build is a new build");
}

#[test]
fn a_deleted_articles_words_leave_completions_and_corrections_at_once() {
    // The article is built with the rest (one large segment the merge policy leaves alone
    // for a small change), so its delete only marks it deleted.
    let kb = KbIndex::in_memory(IndexOptions::default()).unwrap();
    let mut articles = corpus_articles();
    articles.push(article(
        "new-1",
        "Parcel tracking",
        "Track the parcel with its waybill number.",
    ));
    kb.replace_all(&articles).unwrap();
    let words = kb.vocabulary_size();
    let before = kb.plan("wayb").unwrap().completions;
    assert!(!before.is_empty(), "{before:?}");
    assert_eq!(top_ids(&kb, "waybil", 5), vec!["new-1"]);
    kb.apply_changes(&[], &["new-1".to_string()]).unwrap();
    assert_eq!(kb.num_docs(), 40);
    let after = kb.plan("wayb").unwrap().completions;
    assert!(
        after.is_empty(),
        "completions of a deleted article's word: {after:?}"
    );
    assert!(
        kb.vocabulary_size() < words,
        "{} words after the delete, {words} before",
        kb.vocabulary_size()
    );
    assert!(top_ids(&kb, "waybil", 5).is_empty());
}

#[test]
fn a_tag_lists_its_articles_by_title_and_narrows_a_search() {
    let kb = KbIndex::in_memory(IndexOptions::default()).unwrap();
    let tagged = |id: &str, title: &str, body: &str, tags: &[&str]| Article {
        tags: tags.iter().map(|t| t.to_string()).collect(),
        lang: Lang::detect(body),
        ..article(id, title, body)
    };
    kb.replace_all(&[
        tagged(
            "r2",
            "退款到账时间",
            "退款一般三到五个工作日到账。",
            &["退款", "账单"],
        ),
        tagged("r1", "如何申请退款", "在订单页面点击申请退款。", &["退款"]),
        tagged(
            "b1",
            "账单日说明",
            "每月一号出账单，退款会抵扣下期账单。",
            &["账单"],
        ),
        tagged("x1", "宽带报修", "宽带无法上网时先重启光猫。", &[]),
    ])
    .unwrap();
    let ids = |hits: Vec<seatline_kb_search::Hit>| -> Vec<String> {
        hits.into_iter().map(|h| h.id).collect()
    };
    // By title (如 < 退), every article with the tag, none without.
    assert_eq!(ids(kb.browse_tag("退款", 10).unwrap()), ["r1", "r2"]);
    assert_eq!(ids(kb.browse_tag("退款", 1).unwrap()), ["r1"]);
    let browsed = kb.browse_tag("账单", 10).unwrap();
    assert_eq!(browsed.len(), 2);
    assert!(browsed[0].snippet.starts_with("退款一般") || browsed[0].snippet.starts_with("每月"));
    assert!(kb.browse_tag("no such tag", 10).unwrap().is_empty());
    assert!(kb.browse_tag(" ", 10).unwrap().is_empty());
    // The same tag narrows a query: 退款 is in b1's body too, but b1 is not tagged 退款.
    let filter = SearchFilter {
        tags: vec!["退款".into()],
        lang: None,
    };
    let mut found = ids(kb.search_filtered("退款", 10, &filter).unwrap());
    found.sort();
    assert_eq!(found, ["r1", "r2"]);
    assert!(ids(kb.search("退款", 10).unwrap()).contains(&"b1".to_string()));
}

#[test]
fn a_change_with_a_repeated_id_is_refused_and_changes_nothing() {
    let kb = KbIndex::in_memory(IndexOptions::default()).unwrap();
    kb.replace_all(&corpus_articles()).unwrap();
    let err = kb
        .apply_changes(
            &[
                article("x", "Refund", "Refund vouchers."),
                article("x", "Refund again", "Refund vouchers again."),
            ],
            &["a-01".to_string()],
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("duplicate article id `x`"),
        "{err}"
    );
    assert_eq!(kb.num_docs(), 40);
    assert!(top_ids(&kb, "refund", 5).is_empty());
    assert_eq!(top_ids(&kb, "billing note number 1", 1), vec!["a-01"]);
}

#[test]
fn many_small_changes_keep_ranking_across_segments() {
    // Each change lands in a segment of its own; the phrase re-scoring visits every segment.
    let kb = KbIndex::in_memory(IndexOptions::default()).unwrap();
    let apart = apart_articles(90);
    kb.replace_all(&apart[..60]).unwrap();
    for chunk in apart[60..].chunks(10) {
        kb.apply_changes(chunk, &[]).unwrap();
    }
    kb.apply_changes(&[together_article()], &[]).unwrap();
    for i in 0..10 {
        kb.apply_changes(&[], &[format!("apart-{i:03}")]).unwrap();
    }
    assert_eq!(kb.num_docs(), 81);
    assert_eq!(top_ids(&kb, "password reset", 1), vec!["together"]);
    let all = top_ids(&kb, "password", 200);
    assert_eq!(all.len(), 81, "{all:?}");
    assert!(!all.iter().any(|id| id == "apart-000" || id == "apart-009"));
}

#[test]
fn a_word_typed_half_way_completes_even_when_jieba_joins_it_with_the_word_before() {
    let kb = KbIndex::in_memory(IndexOptions::default()).unwrap();
    kb.replace_all(&[
        article(
            "frozen",
            "账号冻结后的网速",
            "宽带账号冻结后网速会被限制，解冻后恢复正常。",
        ),
        article("slow", "网速慢", "网速慢时先让客户测速，再检查光猫。"),
        article("bill", "话费查询", "话费可以在营业厅查询。"),
    ])
    .unwrap();
    // On the way to 网速冻结: jieba cuts 网 / 速冻 (quick-frozen), a word no article holds.
    let plan = kb.plan("网速冻").unwrap();
    assert!(plan.terms.contains(&"网速".to_string()), "{plan:?}");
    assert!(plan.completions.contains(&"冻结".to_string()), "{plan:?}");
    assert_eq!(top_ids(&kb, "网速冻", 1), vec!["frozen"]);
    // A mistyped word stays a homophone, not an unfinished one.
    let plan = kb.plan("话费查寻").unwrap();
    assert!(plan.homophones.iter().any(|(_, w)| w == "查询"), "{plan:?}");
}

#[test]
fn a_word_no_article_holds_is_not_taken_apart_into_a_completion() {
    let kb = KbIndex::in_memory(IndexOptions::default()).unwrap();
    kb.replace_all(&[article("page", "页面说明", "页面加载慢时先刷新。")])
        .unwrap();
    // 首页 is a word of its own; 页 completes to 页面, but 首页 is not 首 + 页….
    assert!(top_ids(&kb, "首頁", 5).is_empty());
    assert!(kb.plan("首页").unwrap().completions.is_empty());
}
