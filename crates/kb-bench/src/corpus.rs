//! Generated call-center knowledge articles and queries over the same vocabulary.
//!
//! Everything is a function of the seed. About 75 % of the articles are simplified Chinese,
//! 15 % traditional and 10 % English; bodies are 200–2,000 characters of procedure-style
//! sentences with Markdown headings and numbered steps.

use seatline_kb_search::{Article, Lang};
use serde::Serialize;

use crate::rng::Rng;

/// A business topic in the three scripts, with its tag.
struct Topic {
    zh: &'static str,
    tw: &'static str,
    en: &'static str,
    tag: &'static str,
}

const fn t(zh: &'static str, tw: &'static str, en: &'static str, tag: &'static str) -> Topic {
    Topic { zh, tw, en, tag }
}

const TOPICS: &[Topic] = &[
    t("退款", "退款", "refund", "billing"),
    t("退货", "退貨", "product return", "orders"),
    t("换货", "換貨", "exchange", "orders"),
    t("账单", "帳單", "bill", "billing"),
    t("话费", "話費", "phone charges", "billing"),
    t("套餐", "方案", "plan", "billing"),
    t("流量", "流量", "mobile data", "mobile"),
    t("宽带", "寬頻", "broadband", "broadband"),
    t("密码", "密碼", "password", "account"),
    t("账号", "帳號", "account", "account"),
    t("登录", "登入", "login", "account"),
    t("验证码", "驗證碼", "verification code", "account"),
    t("发票", "發票", "invoice", "billing"),
    t("物流", "物流", "shipping", "orders"),
    t("快递", "快遞", "courier delivery", "orders"),
    t("订单", "訂單", "order", "orders"),
    t("优惠券", "優惠券", "coupon", "marketing"),
    t("会员", "會員", "membership", "marketing"),
    t("积分", "積分", "reward points", "marketing"),
    t("信用卡", "信用卡", "credit card", "banking"),
    t("银行卡", "銀行卡", "bank card", "banking"),
    t("转账", "轉帳", "bank transfer", "banking"),
    t("支付", "付款", "payment", "billing"),
    t("扣款", "扣款", "direct debit", "billing"),
    t("投诉", "投訴", "complaint", "service"),
    t("保修", "保固", "warranty", "aftersales"),
    t("维修", "維修", "repair", "aftersales"),
    t("安装", "安裝", "installation", "aftersales"),
    t("预约", "預約", "appointment", "service"),
    t("改签", "改簽", "ticket change", "travel"),
    t("退票", "退票", "ticket refund", "travel"),
    t("保险", "保險", "insurance", "insurance"),
    t("理赔", "理賠", "insurance claim", "insurance"),
    t("实名认证", "實名認證", "identity verification", "account"),
    t("停机", "停機", "service suspension", "mobile"),
    t("复机", "復機", "service reactivation", "mobile"),
    t("携号转网", "攜碼轉網", "number porting", "mobile"),
    t("国际漫游", "國際漫遊", "international roaming", "mobile"),
    t("充值", "儲值", "top-up", "billing"),
    t("贷款", "貸款", "loan", "banking"),
    t("还款", "還款", "repayment", "banking"),
    t("分期", "分期", "instalments", "banking"),
    t("逾期", "逾期", "overdue payment", "banking"),
    t("挂失", "掛失", "lost card report", "banking"),
    t("补卡", "補卡", "card replacement", "mobile"),
    t("销户", "銷戶", "account closure", "account"),
    t("路由器", "路由器", "router", "broadband"),
    t("光猫", "光纖數據機", "fibre modem", "broadband"),
    t("网速", "網速", "network speed", "broadband"),
    t("断网", "斷網", "network outage", "broadband"),
    t("地址变更", "地址變更", "address change", "account"),
    t("个人信息", "個人資料", "personal data", "privacy"),
    t("隐私", "隱私", "privacy", "privacy"),
    t("满意度", "滿意度", "satisfaction survey", "service"),
    t("工单", "工單", "work order", "service"),
    t("回访", "回訪", "follow-up call", "service"),
    t("排班", "排班", "shift schedule", "internal"),
    t("合约机", "合約機", "contract phone", "mobile"),
    t("SIM卡", "SIM卡", "SIM card", "mobile"),
    t("5G套餐", "5G方案", "5G plan", "mobile"),
    t("App", "App", "app", "account"),
    t("电子钱包", "電子錢包", "e-wallet", "billing"),
];

/// (simplified, traditional, English) triples.
type Tri = (&'static str, &'static str, &'static str);

const ACTIONS: &[Tri] = &[
    ("办理", "辦理", "apply for"),
    ("查询", "查詢", "check"),
    ("取消", "取消", "cancel"),
    ("申请", "申請", "request"),
    ("修改", "修改", "change"),
    ("重置", "重設", "reset"),
    ("开通", "開通", "activate"),
    ("关闭", "關閉", "deactivate"),
    ("处理", "處理", "handle"),
    ("核实", "核實", "verify"),
    ("退订", "退訂", "unsubscribe from"),
    ("确认", "確認", "confirm"),
    ("提交", "提交", "submit"),
    ("恢复", "恢復", "restore"),
    ("解绑", "解綁", "unlink"),
    ("绑定", "綁定", "link"),
    ("冻结", "凍結", "freeze"),
    ("升级", "升級", "upgrade"),
];

const CONDITIONS: &[Tri] = &[
    ("超过七天", "超過七天", "waited more than seven days"),
    ("一直没有收到", "一直沒有收到", "have not received it"),
    ("重复扣款", "重複扣款", "were charged twice"),
    ("金额不对", "金額不對", "see a wrong amount"),
    ("系统提示错误", "系統提示錯誤", "see an error message"),
    ("无法登录", "無法登入", "cannot log in"),
    ("忘记密码", "忘記密碼", "forgot the password"),
    ("收不到短信", "收不到簡訊", "do not receive the SMS"),
    ("网络很慢", "網路很慢", "find the network slow"),
    ("信号不好", "訊號不好", "have a weak signal"),
    ("人在国外", "人在國外", "are abroad"),
    ("要求人工服务", "要求真人客服", "ask for a human agent"),
    ("情绪激动", "情緒激動", "are upset"),
    ("多次来电", "多次來電", "have called several times"),
    ("手机丢失", "手機遺失", "lost the phone"),
    ("身份证过期", "身分證過期", "have an expired ID card"),
];

const CUSTOMERS: &[Tri] = &[
    ("客户", "客戶", "customer"),
    ("老年客户", "年長客戶", "elderly customer"),
    ("新用户", "新用戶", "new customer"),
    ("VIP客户", "VIP客戶", "VIP customer"),
    ("企业客户", "企業客戶", "business customer"),
    ("学生用户", "學生用戶", "student"),
    ("外籍客户", "外籍客戶", "foreign customer"),
];

const CHANNELS: &[Tri] = &[
    ("电话", "電話", "phone"),
    ("短信", "簡訊", "SMS"),
    ("微信", "LINE", "WeChat"),
    ("App", "App", "app"),
    ("网上营业厅", "網路門市", "online portal"),
    ("小程序", "小程式", "mini program"),
    ("邮件", "電子郵件", "email"),
    ("门店", "門市", "store"),
];

const ZH_SENTENCES: &[&str] = &[
    "客户来电反映{c}时，坐席应先核实身份，再为其{a}{t}。",
    "如果{u}通过{ch}咨询{t}问题，请按照标准话术说明{a}的条件和时限。",
    "{t}{a}一般在{n}个工作日内完成，期间客户可以通过{ch}查询进度。",
    "注意：{u}{c}的，不得直接承诺{a}{t}，需提交工单由二线处理。",
    "坐席在系统中打开{t}页面，选择“{a}”，填写原因后提交审核。",
    "若客户对{t}的处理结果不满意，可引导其通过{ch}提交投诉，并在{n}小时内回访。",
    "办理{t}{a}需要客户提供身份证件号码、手机号码和最近一次{t2}记录。",
    "系统异常导致{t}无法{a}时，请记录错误截图和时间，升级给技术支持。",
    "对于{u}，建议放慢语速，逐步指导其在{ch}上完成{t}{a}。",
    "{t}相关的费用以账单为准，如有疑问可{a}{t2}明细。",
    "常见问题：客户说{c}，怎么办？答：先确认{t}状态，再根据情况{a}。",
    "本规则自{y}年{m}月起执行，适用于所有{t}业务。",
    "通话结束前，请向客户复述{t}{a}的结果，并提醒其留意{ch}通知。",
    "如客户要求{a}{t2}，请说明这与{t}是两项独立业务，需分别办理。",
    "涉及{t}的敏感信息不得在通话中完整朗读，只能读出后四位。",
    "客户使用iPhone或安卓手机均可在App中{a}{t}，需先开启通知权限。",
    "OTP验证码五分钟内有效，超时需重新获取，{t}{a}期间请勿挂机。",
    "质检要求：坐席须在{n}秒内确认客户诉求，并准确记录{t}工单。",
];

const TW_SENTENCES: &[&str] = &[
    "客戶來電反映{c}時，客服人員應先核對身分，再為其{a}{t}。",
    "如果{u}透過{ch}詢問{t}問題，請依照標準話術說明{a}的條件與時限。",
    "{t}{a}一般在{n}個工作天內完成，期間客戶可以透過{ch}查詢進度。",
    "注意：{u}{c}的，不得直接承諾{a}{t}，需提交工單由二線處理。",
    "客服人員在系統中開啟{t}頁面，選擇「{a}」，填寫原因後送出審核。",
    "若客戶對{t}的處理結果不滿意，可引導其透過{ch}提出申訴，並在{n}小時內回訪。",
    "辦理{t}{a}需要客戶提供身分證字號、手機號碼及最近一次{t2}紀錄。",
    "系統異常導致{t}無法{a}時，請記錄錯誤截圖與時間，轉交技術支援。",
    "對於{u}，建議放慢語速，逐步引導其在{ch}上完成{t}{a}。",
    "通話結束前，請向客戶複述{t}{a}的結果，並提醒其留意{ch}通知。",
    "常見問題：客戶說{c}，該怎麼辦？答：先確認{t}狀態，再視情況{a}。",
    "涉及{t}的個人資料不得在通話中完整唸出，只能唸出末四碼。",
];

const EN_SENTENCES: &[&str] = &[
    "If callers say they {c}, verify their identity first and then {a} the {t}.",
    "When a {u} asks about the {t} by {ch}, explain the conditions and the time limit to {a} it.",
    "A {t} request is usually completed within {n} working days; the customer can follow it in the {ch}.",
    "Do not promise to {a} the {t} when customers {c}; open a work order for second-level support.",
    "Open the {t} page in the CRM, choose \"{a}\", enter the reason and submit it for review.",
    "If the customer is unhappy with the {t} outcome, offer a complaint by {ch} and call back within {n} hours.",
    "To {a} the {t}, the customer needs an ID number, the mobile number and the latest {t2} record.",
    "Before ending the call, repeat the {t} result and mention the {ch} notification.",
    "Never read sensitive {t} details aloud; read only the last four digits.",
    "For each {u}, slow down and guide them step by step to {a} the {t} in the {ch}.",
];

const ZH_TITLES: &[&str] = &[
    "{t}{a}流程",
    "如何为客户{a}{t}",
    "{t}常见问题",
    "{u}{t}{a}指引",
    "{ch}{t}{a}操作说明",
    "{c}的处理规范（{t}）",
    "{t}与{t2}：{a}规则",
];

const TW_TITLES: &[&str] = &[
    "{t}{a}流程",
    "如何為客戶{a}{t}",
    "{t}常見問題",
    "{u}{t}{a}指南",
    "{ch}{t}{a}操作說明",
];

const EN_TITLES: &[&str] = &[
    "How to {a} the {t}",
    "{t} FAQ",
    "{t}: {a} for a {u}",
    "{t} by {ch}",
];

const ZH_HEADINGS: &[&str] = &["## 适用范围", "## 处理步骤", "## 注意事项", "## 常见问题"];
const TW_HEADINGS: &[&str] = &["## 適用範圍", "## 處理步驟", "## 注意事項", "## 常見問題"];
const EN_HEADINGS: &[&str] = &["## Scope", "## Steps", "## Notes", "## FAQ"];

/// IME homophone typos agents make (correct, typo): same pinyin, different characters.
const TYPOS: &[(&str, &str)] = &[
    ("投诉", "投述"),
    ("排班", "排版"),
    ("登录", "登陆"),
    ("退款", "退宽"),
    ("话费", "话废"),
    ("套餐", "套参"),
    ("流量", "流亮"),
    ("宽带", "宽待"),
    ("验证码", "验正码"),
    ("充值", "冲值"),
    ("理赔", "理陪"),
    ("积分", "积份"),
    ("维修", "维休"),
    ("挂失", "挂湿"),
    ("发票", "发飘"),
];

const ZH_QUESTIONS: &[&str] = &[
    "客户{c}怎么{a}{t}",
    "{t}多久能{a}好？",
    "{u}要{a}{t}需要什么材料",
    "为什么{t}{c}",
    "{ch}上怎么{a}{t}",
    "{t}{a}失败了怎么办",
    "客户说{c}，{t}可以{a}吗？",
];

const TW_QUESTIONS: &[&str] = &[
    "客戶{c}要怎麼{a}{t}",
    "{t}多久可以{a}？",
    "{u}{a}{t}需要什麼資料",
    "{ch}上如何{a}{t}",
];

const EN_QUESTIONS: &[&str] = &[
    "how to {a} the {t}",
    "{t} {a}",
    "customer cannot {a} {t}",
    "{t} policy",
];

/// Which script a text is generated in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Script {
    Zh,
    Tw,
    En,
}

fn tri(script: Script, v: &Tri) -> &'static str {
    match script {
        Script::Zh => v.0,
        Script::Tw => v.1,
        Script::En => v.2,
    }
}

fn topic(script: Script, v: &Topic) -> &'static str {
    match script {
        Script::Zh => v.zh,
        Script::Tw => v.tw,
        Script::En => v.en,
    }
}

/// Fills `{t}`, `{t2}`, `{a}`, `{c}`, `{u}`, `{ch}`, `{n}`, `{y}`, `{m}` in a template.
fn fill(template: &str, script: Script, main: &Topic, rng: &mut Rng) -> String {
    let mut out = String::with_capacity(template.len() * 2);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let key = &rest[start + 1..start + len];
        match key {
            "t" => out.push_str(topic(script, main)),
            "t2" => out.push_str(topic(script, rng.pick(TOPICS))),
            "a" => out.push_str(tri(script, rng.pick(ACTIONS))),
            "c" => out.push_str(tri(script, rng.pick(CONDITIONS))),
            "u" => out.push_str(tri(script, rng.pick(CUSTOMERS))),
            "ch" => out.push_str(tri(script, rng.pick(CHANNELS))),
            "n" => out.push_str(&(1 + rng.below(30)).to_string()),
            "y" => out.push_str(&(2019 + rng.below(8)).to_string()),
            "m" => out.push_str(&(1 + rng.below(12)).to_string()),
            other => {
                out.push('{');
                out.push_str(other);
                out.push('}');
            }
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out
}

/// Shortest and longest body, in characters.
pub const MIN_BODY_CHARS: usize = 200;
/// See [`MIN_BODY_CHARS`].
pub const MAX_BODY_CHARS: usize = 2000;

/// `n` articles for `seed` (ids `kb-000000`…).
pub fn generate_articles(n: usize, seed: u64) -> Vec<Article> {
    let mut rng = Rng::new(seed, 1);
    (0..n).map(|i| generate_article(i, &mut rng)).collect()
}

fn generate_article(i: usize, rng: &mut Rng) -> Article {
    let roll = rng.unit();
    let (script, lang) = if roll < 0.75 {
        (Script::Zh, Lang::ZhCn)
    } else if roll < 0.90 {
        (Script::Tw, Lang::ZhTw)
    } else {
        (Script::En, Lang::En)
    };
    let (sentences, titles, headings, sep) = match script {
        Script::Zh => (ZH_SENTENCES, ZH_TITLES, ZH_HEADINGS, ""),
        Script::Tw => (TW_SENTENCES, TW_TITLES, TW_HEADINGS, ""),
        Script::En => (EN_SENTENCES, EN_TITLES, EN_HEADINGS, " "),
    };
    let main = rng.pick(TOPICS);
    let mut title = fill(rng.pick::<&str>(titles), script, main, rng);
    if script == Script::En {
        title = capitalise(&title);
    }
    // Skewed towards short articles, as real knowledge bases are.
    let target =
        MIN_BODY_CHARS + ((MAX_BODY_CHARS - MIN_BODY_CHARS) as f64 * rng.unit().powf(1.6)) as usize;
    let mut body = String::new();
    let mut chars = 0usize;
    let mut heading = 0usize;
    let mut step = 0usize;
    while chars < target {
        let mut piece = String::new();
        if chars == 0 || rng.chance(0.12) {
            if chars > 0 {
                piece.push_str("\n\n");
            }
            piece.push_str(headings[heading % headings.len()]);
            piece.push_str("\n\n");
            heading += 1;
            step = 0;
        }
        // A sentence about the main topic most of the time, otherwise about a neighbour.
        let about = if rng.chance(0.8) {
            main
        } else {
            rng.pick(TOPICS)
        };
        let mut sentence = fill(rng.pick::<&str>(sentences), script, about, rng);
        if script == Script::En {
            sentence = capitalise(&sentence);
        }
        if rng.chance(0.3) {
            step += 1;
            piece.push_str(&format!("{step}. {sentence}\n"));
        } else {
            piece.push_str(&sentence);
            piece.push_str(sep);
        }
        let len = piece.chars().count();
        if chars + len > MAX_BODY_CHARS && chars >= MIN_BODY_CHARS {
            break;
        }
        body.push_str(&piece);
        chars += len;
    }
    let body = body.trim().to_string();
    let mut tags = vec![main.tag.to_string(), topic(script, main).to_string()];
    if rng.chance(0.5) {
        tags.push(tri(script, rng.pick(CHANNELS)).to_string());
    }
    Article {
        id: format!("kb-{i:06}"),
        title,
        body,
        tags,
        lang,
    }
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// What kind of query an agent typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum QueryKind {
    /// 1–3 simplified words, with or without spaces.
    Keyword,
    /// A question as a caller would say it.
    Question,
    /// Keywords or a question in traditional script.
    Traditional,
    /// As-you-type: cut inside the last word.
    Prefix,
    /// An IME homophone typo (投述 for 投诉).
    Typo,
    /// English keywords or question.
    English,
}

impl QueryKind {
    /// All kinds, in report order.
    pub const ALL: [QueryKind; 6] = [
        QueryKind::Keyword,
        QueryKind::Question,
        QueryKind::Traditional,
        QueryKind::Prefix,
        QueryKind::Typo,
        QueryKind::English,
    ];

    /// Name in the report.
    pub fn name(self) -> &'static str {
        match self {
            QueryKind::Keyword => "keyword",
            QueryKind::Question => "question",
            QueryKind::Traditional => "traditional",
            QueryKind::Prefix => "prefix",
            QueryKind::Typo => "typo",
            QueryKind::English => "english",
        }
    }
}

/// One benchmark query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Query {
    /// The text typed.
    pub text: String,
    /// Its kind.
    pub kind: QueryKind,
}

/// `n` queries for `seed`; `stream` separates the warm-up set from the measured one.
pub fn generate_queries(n: usize, seed: u64, stream: u64) -> Vec<Query> {
    let mut rng = Rng::new(seed, 100 + stream);
    (0..n).map(|_| generate_query(&mut rng)).collect()
}

fn keywords(script: Script, rng: &mut Rng) -> Vec<&'static str> {
    let main = rng.pick(TOPICS);
    match rng.below(4) {
        0 => vec![topic(script, main)],
        1 => vec![topic(script, main), tri(script, rng.pick(ACTIONS))],
        2 => vec![topic(script, main), topic(script, rng.pick(TOPICS))],
        _ => vec![
            tri(script, rng.pick(CUSTOMERS)),
            topic(script, main),
            tri(script, rng.pick(ACTIONS)),
        ],
    }
}

fn join_words(words: &[&str], rng: &mut Rng) -> String {
    // Agents type Chinese mostly without spaces.
    if rng.chance(0.6) {
        words.concat()
    } else {
        words.join(" ")
    }
}

fn generate_query(rng: &mut Rng) -> Query {
    let roll = rng.unit();
    let (kind, text) = if roll < 0.33 {
        let words = keywords(Script::Zh, rng);
        (QueryKind::Keyword, join_words(&words, rng))
    } else if roll < 0.53 {
        let main = rng.pick(TOPICS);
        let q = fill(rng.pick::<&str>(ZH_QUESTIONS), Script::Zh, main, rng);
        (QueryKind::Question, q)
    } else if roll < 0.66 {
        let text = if rng.chance(0.5) {
            let words = keywords(Script::Tw, rng);
            join_words(&words, rng)
        } else {
            let main = rng.pick(TOPICS);
            fill(rng.pick::<&str>(TW_QUESTIONS), Script::Tw, main, rng)
        };
        (QueryKind::Traditional, text)
    } else if roll < 0.80 {
        let words = keywords(Script::Zh, rng);
        let full = join_words(&words, rng);
        let last_len = words.last().map(|w| w.chars().count()).unwrap_or(1);
        // Keep at least one character of the last word and drop at least one when possible.
        let keep_last = 1 + rng.below(last_len.saturating_sub(1).max(1));
        let drop = last_len - keep_last.min(last_len);
        let total = full.chars().count();
        let text: String = full.chars().take(total - drop).collect();
        (QueryKind::Prefix, text)
    } else if roll < 0.92 {
        let (_, wrong) = *rng.pick(TYPOS);
        let text = match rng.below(3) {
            0 => wrong.to_string(),
            1 => format!("{wrong}{}", tri(Script::Zh, rng.pick(ACTIONS))),
            _ => format!("{wrong}怎么{}", tri(Script::Zh, rng.pick(ACTIONS))),
        };
        (QueryKind::Typo, text)
    } else {
        let text = if rng.chance(0.5) {
            keywords(Script::En, rng).join(" ")
        } else {
            let main = rng.pick(TOPICS);
            fill(rng.pick::<&str>(EN_QUESTIONS), Script::En, main, rng)
        };
        (QueryKind::English, text)
    };
    Query { text, kind }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn articles_are_deterministic_and_in_range() {
        let a = generate_articles(200, 42);
        assert_eq!(a, generate_articles(200, 42));
        assert_ne!(a, generate_articles(200, 43));
        for article in &a {
            let n = article.body.chars().count();
            assert!((MIN_BODY_CHARS - 10..=MAX_BODY_CHARS).contains(&n), "{n}");
            assert!(!article.title.is_empty());
            assert!(!article.tags.is_empty());
            assert!(!article.body.contains('{'), "{}", article.body);
        }
        for lang in [Lang::ZhCn, Lang::ZhTw, Lang::En] {
            assert!(a.iter().any(|x| x.lang == lang));
        }
    }

    #[test]
    fn queries_cover_every_kind() {
        let q = generate_queries(500, 1, 0);
        assert_eq!(q, generate_queries(500, 1, 0));
        for kind in QueryKind::ALL {
            assert!(q.iter().any(|x| x.kind == kind), "{kind:?}");
        }
        assert!(q
            .iter()
            .all(|x| !x.text.trim().is_empty() && !x.text.contains('{')));
        assert!(q
            .iter()
            .any(|x| x.text.contains("投述") || x.text.contains("排版")));
    }
}
