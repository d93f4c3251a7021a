//! Recall@20 of the call suggestions ([`seatline_kb_search::suggest`]) over labeled call
//! contexts. The knowledge base is the shared seed corpus (call-center training and management
//! material) plus this crate's `tests/corpus` (customer-facing procedures: refunds, passwords,
//! outages, complaints), so calls about a customer's problem and calls where the agent needs
//! conduct guidance both have answers. The seed corpus is read at test time as in
//! `tests/relevance.rs` (`$KB_SEED_CORPUS` or `../../../shared/data/kb-seed-corpus`; skipped
//! with a notice outside CI when missing, a failure in CI).
//!
//! Labels were written from the articles' contents before the suggester existed: an article is
//! relevant when it helps the agent on that call, in any language of the knowledge base (so
//! cross-language misses count against recall).

// Test helpers outside #[test] functions unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use seatline_kb_search::suggest::{suggest, CallContext, OpenOrder};
use seatline_kb_search::{read_markdown_dir, IndexOptions, KbIndex};

/// Measured 2026-11-30 (21 contexts, 68 articles): Recall@20 0.828, Recall@5 0.662, MRR 0.872.
/// The misses are mostly across languages (a Chinese call does not find the English article)
/// and vocabulary gaps (退还 vs 退款). The floor sits a little under the measurement so a
/// change that loses relevant suggestions fails.
const MIN_RECALL_AT_20: f64 = 0.78;
const MIN_CONTEXTS: usize = 15;

struct Case {
    name: &'static str,
    context: CallContext,
    relevant: &'static [&'static str],
}

#[derive(Default)]
struct Ctx(CallContext);

impl Ctx {
    fn ivr(mut self, path: &[&str]) -> Self {
        self.0.ivr_path = path.iter().map(|s| s.to_string()).collect();
        self
    }
    fn data(mut self, key: &str, value: &str) -> Self {
        self.0.ivr_data.insert(key.to_string(), value.to_string());
        self
    }
    fn order(mut self, title: &str, category: &str, notes: &str) -> Self {
        self.0.open_orders.push(OpenOrder {
            title: title.to_string(),
            category: category.to_string(),
            notes: notes.to_string(),
        });
        self
    }
    fn notes(mut self, notes: &str) -> Self {
        self.0.notes = notes.to_string();
        self
    }
    fn tags(mut self, tags: &[&str]) -> Self {
        self.0.customer_tags = tags.iter().map(|s| s.to_string()).collect();
        self
    }
}

fn ctx() -> Ctx {
    Ctx::default()
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "overcharge refund (IVR + notes)",
            context: ctx()
                .ivr(&["账单查询", "退款"])
                .notes("您好，客户说上个月账单多扣了费用，要求退款")
                .0,
            relevant: &[
                "billing-dispute",
                "refund-policy",
                "billing-en",
                "refund-tw",
            ],
        },
        Case {
            name: "password, English IVR and notes",
            context: ctx()
                .ivr(&["Account services", "Password"])
                .notes("caller is locked out and says the reset link never arrives")
                .0,
            relevant: &["password-reset-en", "password-reset", "password-reset-tw"],
        },
        Case {
            name: "password, traditional notes",
            context: ctx().notes("客戶忘記密碼，手機收不到驗證碼").0,
            relevant: &["password-reset", "password-reset-tw", "password-reset-en"],
        },
        Case {
            name: "broadband outage with an open repair order",
            context: ctx()
                .ivr(&["故障报修", "宽带"])
                .order("宽带无法上网", "报修", "小区整片断网")
                .notes("客户说已经断网两天了，要求赔偿")
                .0,
            relevant: &[
                "network-outage",
                "network-outage-en",
                "complaint-escalation",
            ],
        },
        Case {
            name: "complaint, wants a supervisor",
            context: ctx()
                .ivr(&["投诉与建议"])
                .notes("客户情绪激动，要求找主管，投诉上次处理太慢")
                .0,
            relevant: &[
                "complaint-escalation",
                "complaint-tw",
                "complaint-en",
                "015",
                "043",
            ],
        },
        Case {
            name: "refund progress, traditional",
            context: ctx()
                .ivr(&["帳務查詢"])
                .notes("信用卡退費已經超過兩週還沒收到")
                .0,
            relevant: &["refund-tw", "refund-policy"],
        },
        Case {
            name: "disputed add-on, English",
            context: ctx()
                .ivr(&["Billing"])
                .notes("customer disputes an add-on charge on this month's invoice")
                .0,
            relevant: &["billing-en", "billing-dispute"],
        },
        Case {
            name: "open order only: overcharged plan fee",
            context: ctx()
                .order("本月月租多收费用", "投诉", "客户要求调账并退还多收的费用")
                .0,
            relevant: &["billing-dispute", "refund-policy", "billing-en"],
        },
        Case {
            name: "power cut in the area",
            context: ctx()
                .ivr(&["用电业务", "故障报修"])
                .notes("小区停电，客户询问什么时候恢复供电")
                .0,
            relevant: &["034", "network-outage", "network-outage-en"],
        },
        Case {
            name: "satisfaction survey callback",
            context: ctx()
                .order("满意度回访", "回访", "")
                .notes("回访客户做满意度调查，客户不太愿意配合")
                .0,
            relevant: &["010", "006", "041"],
        },
        Case {
            name: "abusive caller",
            context: ctx().notes("客户一直骂人，蛮不讲理，情绪很激动").0,
            relevant: &["042", "031", "complaint-escalation"],
        },
        Case {
            name: "property repair order",
            context: ctx()
                .ivr(&["物业服务", "房屋维修"])
                .order("新房交付后墙面开裂", "报修", "业主要求尽快维修")
                .0,
            relevant: &["045"],
        },
        Case {
            name: "parcel delay complaint",
            context: ctx()
                .ivr(&["快递查询", "投诉"])
                .notes("包裹延误三天，客户投诉快递员服务态度差")
                .0,
            relevant: &["015", "complaint-escalation", "039"],
        },
        Case {
            name: "slow system, put the caller on hold",
            context: ctx().notes("系统查询很慢，需要让客户稍等").0,
            relevant: &["029"],
        },
        Case {
            name: "lawyer threat, English",
            context: ctx()
                .ivr(&["Complaints"])
                .notes("caller threatens to contact a lawyer about an unresolved complaint")
                .0,
            relevant: &["complaint-en", "complaint-escalation", "complaint-tw"],
        },
        Case {
            name: "password, traditional IVR and tags only",
            context: ctx().ivr(&["帳號服務", "密碼重設"]).tags(&["台灣客戶"]).0,
            relevant: &["password-reset-tw", "password-reset", "password-reset-en"],
        },
        Case {
            name: "notes typed now change the topic of the open order",
            context: ctx()
                .order("宽带断网", "报修", "")
                .notes("客户这次来电是要修改登录密码")
                .0,
            relevant: &[
                "password-reset",
                "password-reset-tw",
                "password-reset-en",
                "network-outage",
            ],
        },
        Case {
            name: "IVR data fields only (English intent code)",
            context: ctx()
                .data("X-IVR-Intent", "refund")
                .data("X-IVR-Account", "8812345")
                .0,
            relevant: &["refund-policy", "refund-tw"],
        },
        Case {
            name: "VIP line",
            context: ctx()
                .ivr(&["VIP专线"])
                .tags(&["VIP"])
                .notes("贵宾会员咨询积分")
                .0,
            relevant: &["030"],
        },
        Case {
            name: "outbound sales call, do not call again",
            context: ctx().notes("外呼营销，客户说不要再打电话了").0,
            relevant: &["041", "049"],
        },
        Case {
            name: "traditional complaint order, wants a call back",
            context: ctx()
                .order("客訴：維修人員遲到", "投訴", "客戶要求主管回電")
                .0,
            relevant: &[
                "complaint-tw",
                "complaint-escalation",
                "complaint-en",
                "015",
            ],
        },
    ]
}

fn seed_dir() -> Option<PathBuf> {
    common::seed_corpus_dir("suggestions")
}

fn build(seed: &Path) -> KbIndex {
    let (mut articles, report) = read_markdown_dir(seed).unwrap();
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let (more, report) = read_markdown_dir(&local).unwrap();
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    articles.extend(more);
    let kb = KbIndex::in_memory(IndexOptions::default()).unwrap();
    kb.replace_all(&articles).unwrap();
    kb
}

struct Figures {
    recall_at_20: f64,
    recall_at_5: f64,
    mrr: f64,
    p50: Duration,
    p95: Duration,
    per_case: Vec<(f64, &'static str, Vec<String>, Vec<&'static str>)>,
}

fn recall(ranked: &[String], relevant: &[&str], k: usize) -> f64 {
    let top = &ranked[..ranked.len().min(k)];
    let found = relevant
        .iter()
        .filter(|id| top.iter().any(|r| r == *id))
        .count();
    found as f64 / relevant.len() as f64
}

fn score(kb: &KbIndex) -> Figures {
    let cases = cases();
    // The first call loads jieba's tables; time the steady state.
    let _ = suggest(kb, &ctx().notes("退款").0, 1);
    let (mut r20, mut r5, mut mrr) = (0.0, 0.0, 0.0);
    let mut times = Vec::new();
    let mut per_case = Vec::new();
    for case in &cases {
        let started = Instant::now();
        let suggestions = suggest(kb, &case.context, 20);
        times.push(started.elapsed());
        let ranked: Vec<String> = suggestions.iter().map(|s| s.id.clone()).collect();
        let r = recall(&ranked, case.relevant, 20);
        r20 += r;
        r5 += recall(&ranked, case.relevant, 5);
        mrr += ranked
            .iter()
            .position(|id| case.relevant.contains(&id.as_str()))
            .map(|p| 1.0 / (p as f64 + 1.0))
            .unwrap_or(0.0);
        per_case.push((r, case.name, ranked, case.relevant.to_vec()));
    }
    times.sort();
    let n = cases.len() as f64;
    let p50 = times[times.len() / 2];
    let p95 = times[((times.len() * 95).div_ceil(100)).saturating_sub(1)];
    Figures {
        recall_at_20: r20 / n,
        recall_at_5: r5 / n,
        mrr: mrr / n,
        p50,
        p95,
        per_case,
    }
}

#[test]
fn contexts_are_enough_and_label_existing_articles() {
    let cases = cases();
    assert!(cases.len() >= MIN_CONTEXTS, "only {} contexts", cases.len());
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let seed = seed_dir();
    for case in &cases {
        assert!(!case.relevant.is_empty(), "{}: no labels", case.name);
        for id in case.relevant {
            let in_local = local.join(format!("{id}.md")).is_file();
            let in_seed = seed
                .as_ref()
                .is_some_and(|d| d.join(format!("{id}.md")).is_file());
            assert!(
                in_local || in_seed || seed.is_none(),
                "{}: unknown id {id}",
                case.name
            );
        }
    }
}

#[test]
fn suggestion_recall_does_not_regress() {
    let Some(seed) = seed_dir() else { return };
    let kb = build(&seed);
    let f = score(&kb);
    assert!(
        f.recall_at_20 >= MIN_RECALL_AT_20,
        "Recall@20 {:.3} < {MIN_RECALL_AT_20}",
        f.recall_at_20
    );
}

/// `cargo test -p seatline-kb-search --release --test suggest_recall -- --ignored --nocapture`
/// prints the figures and each context's ranking.
#[test]
#[ignore]
fn print_suggestion_figures() {
    let Some(seed) = seed_dir() else { return };
    let kb = build(&seed);
    let f = score(&kb);
    println!(
        "contexts {}  articles {}  Recall@20 {:.3}  Recall@5 {:.3}  MRR {:.3}  p50 {:?}  p95 {:?}",
        f.per_case.len(),
        kb.num_docs(),
        f.recall_at_20,
        f.recall_at_5,
        f.mrr,
        f.p50,
        f.p95
    );
    let mut worst = f.per_case;
    worst.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (r, name, ranked, relevant) in &worst {
        println!("{r:.2}  {name}  want {relevant:?}  got {ranked:?}");
    }
    for case in cases().iter().take(3) {
        for s in suggest(&kb, &case.context, 5) {
            println!(
                "{}  {} {:.2} because {:?}",
                case.name, s.id, s.score, s.because
            );
        }
    }
}
