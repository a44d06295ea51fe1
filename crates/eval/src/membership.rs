//! Membership inference: how well an attacker who sees a model's answers tells the rows it
//! was trained on (members) from rows it never saw (non-members). Run against the teacher,
//! the distilled student and the scratch baseline side by side, on the run's training rows
//! and its held-out test rows.
//!
//! Two threshold attacks (Yeom et al. 2018): the loss attack scores a row by the negative
//! cross-entropy of its true label (members have lower loss), the confidence attack by the
//! model's top probability. Each is summarised the way the membership-inference literature
//! asks (Carlini et al. 2022): ROC AUC, the true-positive rate at 0.1% and 1% false
//! positives, and the membership advantage max(TPR − FPR). An AUC near 0.5 and TPRs near
//! the FPRs mean the answers leak little about who was in the training set.

use serde::{Deserialize, Serialize};

/// One attack on one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MembershipAttack {
    /// `teacher`, `student` or `scratch`.
    pub model: String,
    /// `loss` or `confidence`.
    pub attack: String,
    /// ROC AUC of the attack's score for member vs non-member.
    pub auc: f64,
    /// Share of members flagged when at most 0.1% of non-members are.
    pub tpr_at_0_1_pct_fpr: f64,
    /// Share of members flagged when at most 1% of non-members are.
    pub tpr_at_1_pct_fpr: f64,
    /// max over thresholds of TPR − FPR (Yeom et al.'s membership advantage).
    pub advantage: f64,
    /// Member rows (the training rows).
    pub members: usize,
    /// Non-member rows (the test rows).
    pub non_members: usize,
}

/// The membership-inference section of a run report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MembershipReport {
    /// Every attack on every model.
    pub attacks: Vec<MembershipAttack>,
    /// How to read it, and what the teacher's numbers mean for this run.
    pub note: String,
}

impl MembershipReport {
    /// One line for the summary: the loss attack's AUC per model.
    pub fn line(&self) -> String {
        let parts: Vec<String> = self
            .attacks
            .iter()
            .filter(|a| a.attack == "loss")
            .map(|a| {
                format!(
                    "{} {:.3} (TPR {:.3} at 1% FPR)",
                    a.model, a.auc, a.tpr_at_1_pct_fpr
                )
            })
            .collect();
        let lira = self
            .attacks
            .iter()
            .find(|a| a.attack.starts_with("lira"))
            .map(|a| {
                format!(
                    "; {} on the {}: AUC {:.3} (TPR {:.3} at 1% FPR)",
                    a.attack, a.model, a.auc, a.tpr_at_1_pct_fpr
                )
            })
            .unwrap_or_default();
        format!(
            "membership inference (loss attack, AUC; 0.5 = no leak): {}{lira}\n",
            parts.join(", ")
        )
    }
}

/// Attack scores for rows of `p` (`k` probabilities each) with labels `y`: the negative
/// cross-entropy of the true label (`loss`) and the top probability (`confidence`). Rows
/// without a label are left out of both.
pub fn scores(p: &[f32], k: usize, y: &[Option<u32>]) -> (Vec<f64>, Vec<f64>) {
    let mut loss = Vec::new();
    let mut confidence = Vec::new();
    for (row, label) in p.chunks_exact(k).zip(y) {
        let Some(label) = label else { continue };
        let pt = f64::from(row[*label as usize]).max(1e-12);
        loss.push(pt.ln());
        confidence.push(row.iter().copied().fold(0.0f32, f32::max).into());
    }
    (loss, confidence)
}

/// AUC, TPR at 0.1% and 1% FPR, and the advantage of a score that is higher for members.
pub fn attack(members: &[f64], non_members: &[f64]) -> (f64, f64, f64, f64) {
    if members.is_empty() || non_members.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN, f64::NAN);
    }
    // AUC by Mann–Whitney on the pooled ranks (ties share their average rank).
    let mut pooled: Vec<(f64, bool)> = members
        .iter()
        .map(|&s| (s, true))
        .chain(non_members.iter().map(|&s| (s, false)))
        .collect();
    pooled.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (nm, nn) = (members.len() as f64, non_members.len() as f64);
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < pooled.len() {
        let mut j = i;
        while j < pooled.len() && pooled[j].0 == pooled[i].0 {
            j += 1;
        }
        let average = (i + j + 1) as f64 / 2.0;
        rank_sum += average * pooled[i..j].iter().filter(|p| p.1).count() as f64;
        i = j;
    }
    let auc = (rank_sum - nm * (nm + 1.0) / 2.0) / (nm * nn);
    // Advantage: sweep thresholds from the top; at each distinct score, flag every row at
    // or above it.
    let (mut tp, mut fp, mut advantage) = (0.0, 0.0, 0.0f64);
    let mut i = pooled.len();
    while i > 0 {
        let s = pooled[i - 1].0;
        while i > 0 && pooled[i - 1].0 == s {
            if pooled[i - 1].1 {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            i -= 1;
        }
        advantage = advantage.max(tp / nm - fp / nn);
    }
    let mut desc = non_members.to_vec();
    desc.sort_by(|a, b| b.total_cmp(a));
    let tpr_at = |fpr: f64| {
        // Flag scores strictly above the (allowed + 1)-th highest non-member score, so at
        // most `allowed` non-members are flagged.
        let allowed = (fpr * nn).floor() as usize;
        let threshold = desc[allowed.min(desc.len() - 1)];
        members.iter().filter(|&&s| s > threshold).count() as f64 / nm
    };
    (auc, tpr_at(0.001), tpr_at(0.01), advantage)
}

/// Both attacks on one model: member rows' and non-member rows' probabilities and labels.
pub fn attacks_on(
    model: &str,
    k: usize,
    member_p: &[f32],
    member_y: &[Option<u32>],
    non_member_p: &[f32],
    non_member_y: &[Option<u32>],
) -> Vec<MembershipAttack> {
    let (m_loss, m_conf) = scores(member_p, k, member_y);
    let (n_loss, n_conf) = scores(non_member_p, k, non_member_y);
    [("loss", &m_loss, &n_loss), ("confidence", &m_conf, &n_conf)]
        .into_iter()
        .map(|(name, m, n)| {
            let (auc, t01, t1, advantage) = attack(m, n);
            MembershipAttack {
                model: model.into(),
                attack: name.into(),
                auc,
                tpr_at_0_1_pct_fpr: t01,
                tpr_at_1_pct_fpr: t1,
                advantage,
                members: m.len(),
                non_members: n.len(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_perfect_separation_and_no_separation() {
        let members: Vec<f64> = (0..1000).map(|i| 10_000.0 + f64::from(i)).collect();
        let others: Vec<f64> = (0..1000).map(f64::from).collect();
        let (auc, t01, t1, adv) = attack(&members, &others);
        assert_eq!((auc, t01, t1, adv), (1.0, 1.0, 1.0, 1.0));
        let (auc, _, t1, adv) = attack(&others, &others);
        assert!((auc - 0.5).abs() < 1e-12, "{auc}");
        assert!(t1 <= 0.01 + 1e-12, "{t1}");
        assert!(adv < 0.01, "{adv}");
    }

    #[test]
    fn auc_matches_a_hand_count_with_ties() {
        // Pairs (member, non-member): member higher counts 1, equal 0.5.
        let members = [0.9, 0.5, 0.5];
        let others = [0.5, 0.1];
        // 0.9 beats both (2); each 0.5 ties 0.5 (0.5) and beats 0.1 (1): 2 + 1.5 + 1.5 = 5 of 6.
        let (auc, ..) = attack(&members, &others);
        assert!((auc - 5.0 / 6.0).abs() < 1e-12, "{auc}");
    }

    #[test]
    fn the_loss_score_is_the_log_probability_of_the_label() {
        let p = [0.8f32, 0.2, 0.3, 0.7];
        let (loss, conf) = scores(&p, 2, &[Some(0), Some(0)]);
        assert!((loss[0] - 0.8f64.ln()).abs() < 1e-6 && (loss[1] - 0.3f64.ln()).abs() < 1e-6);
        assert!((conf[0] - 0.8).abs() < 1e-6 && (conf[1] - 0.7).abs() < 1e-6);
    }
}
