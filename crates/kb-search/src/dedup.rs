//! Near-duplicate detection among search results.
//!
//! Knowledge bases collect copies: the same FAQ pasted under two titles, an article and its
//! lightly edited successor. Showing all of them pushes other answers off the first screen.
//! The hits of one search are compared by character 4-gram shingles of their folded bodies
//! (hashed, sorted, merge-intersected: cheap for a page of results); a hit whose shingles are
//! mostly contained in a better-ranked hit's is marked as its duplicate and moved right after
//! it, so the UI can fold it under that hit while scripts still see every result.

/// Shingle width in characters.
const SHINGLE: usize = 4;
/// Only the start of each text is compared: copies share their opening, and the cost stays
/// flat for long articles (this runs on every search).
const PREFIX_CHARS: usize = 2_000;
/// Share of the smaller text's shingles found in the other for the two to count as copies.
pub const CONTAINMENT: f64 = 0.8;
/// Texts shorter than this many shingles are never called duplicates (short FAQ answers
/// legitimately share most of their words).
const MIN_SHINGLES: usize = 40;

/// Sorted, de-duplicated shingle hashes of the start of a text (whitespace and punctuation
/// ignored). No script folding: it costs more than the whole search, and a traditional copy
/// of a simplified article is rare in one knowledge base.
pub fn shingles(text: &str) -> Vec<u64> {
    let chars: Vec<u32> = text
        .chars()
        .filter(|c| c.is_alphanumeric())
        .take(PREFIX_CHARS)
        .map(|c| c.to_lowercase().next().unwrap_or(c) as u32)
        .collect();
    if chars.len() < SHINGLE {
        return Vec::new();
    }
    let mut out: Vec<u64> = chars
        .windows(SHINGLE)
        .map(|w| {
            // FNV-1a over the code points: cheap, and collisions only blur a ratio.
            w.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &c| {
                (h ^ u64::from(c)).wrapping_mul(0x0000_0100_0000_01b3)
            })
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Share of the smaller set contained in the larger (0 when either is too short).
pub fn containment(a: &[u64], b: &[u64]) -> f64 {
    let smaller = a.len().min(b.len());
    if smaller < MIN_SHINGLES {
        return 0.0;
    }
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    common as f64 / smaller as f64
}

/// For texts in rank order: the new order (duplicates right after the hit they copy) and,
/// for each position of the new order, the index (in the input) of the hit it duplicates.
pub fn group(texts: &[&str]) -> Vec<(usize, Option<usize>)> {
    let sets: Vec<Vec<u64>> = texts.iter().map(|t| shingles(t)).collect();
    let mut representative: Vec<Option<usize>> = vec![None; texts.len()];
    for i in 0..texts.len() {
        for j in 0..i {
            if representative[j].is_none() && containment(&sets[i], &sets[j]) >= CONTAINMENT {
                representative[i] = Some(j);
                break;
            }
        }
    }
    let mut order = Vec::with_capacity(texts.len());
    for i in 0..texts.len() {
        if representative[i].is_some() {
            continue;
        }
        order.push((i, None));
        for (k, rep) in representative.iter().enumerate() {
            if *rep == Some(i) {
                order.push((k, Some(i)));
            }
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "客户来电反映宽带无法上网时，先确认光猫指示灯状态，再询问是否欠费停机，\
        最后远程检测线路。如线路正常，指导客户重启光猫和路由器；仍无法恢复的，登记报修工单，\
        告知客户维修人员将在二十四小时内上门，并留下回访电话。";

    #[test]
    fn copies_fold_under_the_better_ranked_hit() {
        let edited = format!("{BASE}另：节假日照常受理。");
        let other = "信用卡还款日可以在账单页面查看，逾期会产生违约金和利息，\
            请提醒客户设置自动还款，避免影响个人征信记录，必要时可申请延期还款并说明原因。";
        let order = group(&[BASE, other, &edited]);
        assert_eq!(order, vec![(0, None), (2, Some(0)), (1, None)]);
    }

    #[test]
    fn short_or_different_texts_are_kept_apart() {
        assert_eq!(
            containment(&shingles("退款三天到账"), &shingles("退款三天到账")),
            0.0
        );
        let order = group(&["甲乙丙丁", "甲乙丙丁"]);
        assert_eq!(order, vec![(0, None), (1, None)]);
        assert!(group(&[]).is_empty());
    }
}
