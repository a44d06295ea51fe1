//! The evasion audit's record (`audit.json`, schema `distillery-audit/1`): how the student's
//! accuracy falls as an attacker who knows its weights perturbs the rows (PGD on numbers,
//! then one categorical change), and how many of those adversarial rows also fool the
//! teacher, which the attacker never queried (transfer).

use serde::{Deserialize, Serialize};

/// Schema tag of `audit.json`.
pub const AUDIT_SCHEMA: &str = "distillery-audit/1";

/// The whole audit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvasionAudit {
    /// [`AUDIT_SCHEMA`].
    pub schema: String,
    /// The student file attacked.
    pub model: String,
    /// The labelled rows attacked.
    pub data: String,
    /// The teacher the adversarial rows were transferred to, when one was given.
    pub teacher: Option<String>,
    /// Rows attacked (a seeded sample of the labelled rows).
    pub rows: usize,
    /// `inf` or `l2`: the ball the numeric perturbation lives in, in standard deviations.
    pub norm: String,
    /// PGD steps per ε (step size 2.5 ε / steps, Madry et al. 2018).
    pub steps: usize,
    /// Columns that were not allowed to move.
    pub immutable: Vec<String>,
    /// Student accuracy on the clean rows.
    pub clean_accuracy: f64,
    /// Teacher accuracy on the clean rows.
    pub teacher_clean_accuracy: Option<f64>,
    /// One point per ε.
    pub curve: Vec<EvasionPoint>,
    /// Wall time of the audit.
    pub seconds: f64,
}

/// The attacks at one ε.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvasionPoint {
    /// Radius of the numeric perturbation, in standard deviations of each column.
    pub epsilon: f64,
    /// Student accuracy when only numeric columns move.
    pub robust_accuracy_numeric: f64,
    /// Student accuracy when, in addition, one categorical column may change to another of
    /// its levels.
    pub robust_accuracy: f64,
    /// Share of the rows the student got right whose prediction the attack changed.
    pub flipped: f64,
    /// Teacher accuracy on the student's adversarial rows.
    pub teacher_accuracy: Option<f64>,
    /// Of the rows whose student prediction the attack changed, the share whose teacher
    /// prediction changed too.
    pub transfer_rate: Option<f64>,
    /// The columns the successful attacks leaned on most.
    pub most_attacked: Vec<AttackedFeature>,
}

impl EvasionPoint {
    /// The three columns attacks leaned on most: "age 25%, fnlwgt 18%, sex 9%".
    pub fn most_attacked_line(&self) -> String {
        self.most_attacked
            .iter()
            .take(3)
            .map(|f| format!("{} {:.0}%", f.name, 100.0 * f.share))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A column and how often successful attacks leaned on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttackedFeature {
    /// Column name.
    pub name: String,
    /// Share of successful attacks whose largest move was this column (numeric: the largest
    /// standardised shift; categorical: the changed level).
    pub share: f64,
}

impl EvasionAudit {
    /// Plain-text lines for a terminal: one per ε.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!(
            "evasion audit: {} rows, PGD {} ({} steps) on numbers + one categorical change; clean accuracy {:.4}{}",
            self.rows,
            self.norm,
            self.steps,
            self.clean_accuracy,
            self.teacher_clean_accuracy
                .map_or_else(String::new, |t| format!(" (teacher {t:.4})"))
        )];
        for p in &self.curve {
            let teacher = match (p.teacher_accuracy, p.transfer_rate) {
                (Some(a), Some(t)) => format!("; teacher {a:.4}, transfer {t:.3}"),
                (Some(a), None) => format!("; teacher {a:.4}"),
                _ => String::new(),
            };
            let most = p.most_attacked_line();
            out.push(format!(
                "  ε = {:<5} robust accuracy {:.4} (numbers only {:.4}), flipped {:.3}{teacher}{}",
                p.epsilon,
                p.robust_accuracy,
                p.robust_accuracy_numeric,
                p.flipped,
                if most.is_empty() {
                    String::new()
                } else {
                    format!("; most attacked: {most}")
                }
            ));
        }
        out
    }
}

/// Heading of the model card's evasion section, which `distillery audit` adds or replaces.
pub const CARD_HEADING: &str = "## Evasion audit (`distillery audit`)";

impl EvasionAudit {
    /// The model card's evasion section: the curve as a table, then how it was measured.
    pub fn card_section(&self) -> String {
        let mut s = format!(
            "{CARD_HEADING}\n\nPGD ({} norm, {} steps) on the numeric columns in standard deviations, inside each column's observed range, then the most damaging change of one categorical column; {} rows of `{}`; clean accuracy {:.4}{}.{}\n\n| ε | robust accuracy | numbers only | flipped | teacher on the same rows | transfer to the teacher | most attacked |\n|---|---|---|---|---|---|---|\n",
            self.norm,
            self.steps,
            self.rows,
            self.data,
            self.clean_accuracy,
            self.teacher_clean_accuracy
                .map_or_else(String::new, |t| format!(" (teacher {t:.4})")),
            if self.immutable.is_empty() {
                String::new()
            } else {
                format!(" Immutable: {}.", self.immutable.join(", "))
            }
        );
        let opt = |v: Option<f64>, digits: usize| {
            v.map_or_else(|| "–".to_string(), |v| format!("{v:.digits$}"))
        };
        for p in &self.curve {
            let most = p.most_attacked_line();
            s.push_str(&format!(
                "| {} | {:.4} | {:.4} | {:.3} | {} | {} | {} |\n",
                p.epsilon,
                p.robust_accuracy,
                p.robust_accuracy_numeric,
                p.flipped,
                opt(p.teacher_accuracy, 4),
                opt(p.transfer_rate, 3),
                most
            ));
        }
        s.push('\n');
        s
    }

    /// `card` with this audit's section in place of any earlier one, before the governance
    /// map when the card has one, else at the end.
    pub fn into_card(&self, card: &str) -> String {
        let mut text = card.to_string();
        if let Some(start) = text.find(CARD_HEADING) {
            let end = text[start + CARD_HEADING.len()..]
                .find("\n## ")
                .map_or(text.len(), |e| start + CARD_HEADING.len() + e + 1);
            text.replace_range(start..end, "");
        }
        let section = self.card_section();
        match text.find("## Governance map") {
            Some(at) => text.insert_str(at, &section),
            None => {
                if !text.ends_with('\n') {
                    text.push('\n');
                }
                text.push('\n');
                text.push_str(&section);
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audit(eps: f64) -> EvasionAudit {
        EvasionAudit {
            schema: AUDIT_SCHEMA.into(),
            model: "s".into(),
            data: "d.csv".into(),
            teacher: None,
            rows: 10,
            norm: "inf".into(),
            steps: 10,
            immutable: vec![],
            clean_accuracy: 0.9,
            teacher_clean_accuracy: None,
            curve: vec![EvasionPoint {
                epsilon: eps,
                robust_accuracy: 0.5,
                robust_accuracy_numeric: 0.6,
                flipped: 0.4,
                teacher_accuracy: None,
                transfer_rate: None,
                most_attacked: vec![AttackedFeature {
                    name: "age".into(),
                    share: 1.0,
                }],
            }],
            seconds: 0.1,
        }
    }

    #[test]
    fn the_card_section_goes_before_the_governance_map_and_replaces_an_earlier_one() {
        let card = "# Card\n\n## Privacy\n\ntext\n\n## Governance map (NIST)\n\nmap\n";
        let once = audit(0.25).into_card(card);
        assert!(once.find(CARD_HEADING).unwrap() < once.find("## Governance map").unwrap());
        assert!(once.contains("| 0.25 | 0.5000 | 0.6000 | 0.400 | – | – | age 100% |"));
        let twice = audit(0.5).into_card(&once);
        assert_eq!(twice.matches(CARD_HEADING).count(), 1);
        assert!(twice.contains("| 0.5 |") && !twice.contains("| 0.25 |"));
        assert!(twice.ends_with("map\n"));
        let plain = audit(0.1).into_card("# Card\n");
        assert!(plain.ends_with("| age 100% |\n\n"));
    }
}
