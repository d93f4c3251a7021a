use super::*;
use seatline_phone_numbers::NormalizerOptions;

fn customer(id: &str, name: &str, phones: &[&str]) -> Customer {
    Customer {
        id: id.into(),
        name: name.into(),
        phones: phones.iter().map(|p| (*p).to_owned()).collect(),
        email: None,
        tier: "gold".into(),
        tags: vec![],
        notes: String::new(),
        updated_at: "2026-11-20T10:00:00Z".into(),
        deleted: false,
    }
}

async fn cache(dir: &tempfile::TempDir) -> CustomerCache {
    let normalizer = Normalizer::new("CN", NormalizerOptions::with_area_code("10")).unwrap();
    CustomerCache::open(&dir.path().join("customers.db"), normalizer)
        .await
        .unwrap()
}

fn names(lookup: &Lookup) -> Vec<String> {
    match lookup {
        Lookup::Number { matches, .. } | Lookup::Unreadable { matches, .. } => {
            matches.iter().map(|c| c.name.clone()).collect()
        }
        Lookup::Withheld => vec![],
    }
}

#[tokio::test]
async fn a_caller_matches_whatever_form_the_crm_and_the_pbx_use() {
    let dir = tempfile::tempdir().unwrap();
    let c = cache(&dir).await;
    let page = [
        customer("1", "张三", &["13800138000"]),
        customer("2", "李四", &["+86 10 6234 5678"]),
        customer("3", "王五", &["010-62345679", "+8613900139000"]),
    ];
    c.apply_page(&page, Some("cur-1")).await.unwrap();
    for caller in [
        "+8613800138000",
        "008613800138000",
        "sip:+8613800138000@pbx.example.com;user=phone",
        "013800138000",
    ] {
        assert_eq!(
            names(&c.lookup(caller).await.unwrap()),
            ["张三"],
            "{caller}"
        );
    }
    // A local landline dialled without the area code, with the center's default area.
    assert_eq!(names(&c.lookup("62345678").await.unwrap()), ["李四"]);
    assert_eq!(names(&c.lookup("+86 10 62345679").await.unwrap()), ["王五"]);
    assert_eq!(names(&c.lookup("13900139000").await.unwrap()), ["王五"]);
    assert!(names(&c.lookup("+8613700137000").await.unwrap()).is_empty());
    assert_eq!(c.cursor().await.unwrap().as_deref(), Some("cur-1"));
    assert_eq!(c.count().await.unwrap(), 3);
    assert!(!c.is_empty().await.unwrap());
}

#[tokio::test]
async fn a_shared_number_offers_a_choice_and_withheld_numbers_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let c = cache(&dir).await;
    let page = [
        customer("1", "Acme front desk", &["+86 10 8888 0000"]),
        customer("2", "Acme accounts", &["010 8888 0000"]),
    ];
    c.apply_page(&page, None).await.unwrap();
    assert_eq!(
        names(&c.lookup("+861088880000").await.unwrap()),
        ["Acme accounts", "Acme front desk"]
    );
    assert_eq!(c.lookup("anonymous").await.unwrap(), Lookup::Withheld);
}

#[tokio::test]
async fn updates_move_the_keys_and_tombstones_remove_the_customer() {
    let dir = tempfile::tempdir().unwrap();
    let c = cache(&dir).await;
    c.apply_page(&[customer("1", "张三", &["13800138000"])], Some("a"))
        .await
        .unwrap();
    c.apply_page(&[customer("1", "张三", &["13900139000"])], Some("b"))
        .await
        .unwrap();
    assert!(names(&c.lookup("13800138000").await.unwrap()).is_empty());
    assert_eq!(names(&c.lookup("13900139000").await.unwrap()), ["张三"]);
    let mut gone = customer("1", "张三", &["13900139000"]);
    gone.deleted = true;
    c.apply_page(&[gone], Some("c")).await.unwrap();
    assert!(names(&c.lookup("13900139000").await.unwrap()).is_empty());
    assert_eq!(c.count().await.unwrap(), 0);
    assert!(c.is_empty().await.unwrap());
    assert_eq!(c.cursor().await.unwrap().as_deref(), Some("c"));
}

#[tokio::test]
async fn odd_crm_numbers_still_match_their_exact_digits() {
    let dir = tempfile::tempdir().unwrap();
    let c = cache(&dir).await;
    // Not a valid number anywhere, but it is what the CRM holds and what the PBX sends.
    c.apply_page(&[customer("1", "Test line", &["12"])], None)
        .await
        .unwrap();
    let lookup = c.lookup("12").await.unwrap();
    assert!(matches!(lookup, Lookup::Unreadable { .. }), "{lookup:?}");
    assert_eq!(names(&lookup), ["Test line"]);
}

#[tokio::test]
async fn the_server_feed_json_is_read_with_its_extra_fields() {
    let json = r#"{"id":"9","tenant_id":"t","name":"赵六","phones":["+8613800138000"],
        "email":null,"tier":"vip","tags":["vip"],"notes":"","version":3,
        "created_at":"x","updated_at":"y","deleted":false,"cursor":"z"}"#;
    let parsed: Customer = serde_json::from_str(json).unwrap();
    assert_eq!(parsed.name, "赵六");
    assert_eq!(parsed.tier, "vip");
}

#[tokio::test]
async fn ivr_references_and_the_agents_search_find_customers_the_number_did_not() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache(&dir).await;
    let page = [
        customer("C-1001", "张伟", &["13800138000"]),
        customer("C-1002", "张丽_测试", &["010 6234 5678"]),
        customer("C-1003", "Li Na", &["+8615012345678"]),
    ];
    cache.apply_page(&page, Some("c1")).await.unwrap();

    // The IVR asked for the customer number, or the caller keyed in a callback number.
    let by_id = cache.by_reference("C-1003").await.unwrap();
    assert_eq!(by_id.iter().map(|c| &c.name).collect::<Vec<_>>(), ["Li Na"]);
    let by_number = cache.by_reference("0086 138 0013 8000").await.unwrap();
    assert_eq!(by_number[0].id, "C-1001");
    assert!(cache.by_reference("C-9999").await.unwrap().is_empty());
    assert!(
        cache.by_reference("1001").await.unwrap().is_empty(),
        "an extension is no customer"
    );
    assert!(cache.get("C-1002").await.unwrap().is_some());
    assert!(cache.get("nobody").await.unwrap().is_none());

    // Name substrings; LIKE wildcards in the text are literal.
    let names: Vec<String> = cache
        .search("张", 10)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["张丽_测试", "张伟"]);
    assert_eq!(cache.search("丽_", 10).await.unwrap().len(), 1);
    assert!(cache.search("%", 10).await.unwrap().is_empty());
    // A number typed with spaces finds its owner.
    assert_eq!(cache.search("6234 5678", 10).await.unwrap()[0].id, "C-1002");
    assert!(cache.search("  ", 10).await.unwrap().is_empty());
}
