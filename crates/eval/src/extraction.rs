//! Model-extraction risk: how many black-box queries an attacker needs to copy the
//! student. The attacker is distillery's own distiller: it queries the student, labels the
//! queries with the answers, and trains a clone of the same size. Fidelity of the clone to
//! the student on held-out rows, against the number of queries, is the extraction curve.

use serde::{Deserialize, Serialize};

/// One point of the curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtractionPoint {
    /// `public sample` (rows like the data, e.g. a public dataset) or `uniform` (each input
    /// uniform over its observed range: an attacker without data).
    pub strategy: String,
    /// Queries sent.
    pub queries: usize,
    /// Argmax agreement of the clone with the student on held-out rows.
    pub fidelity: f64,
}

/// The extraction section of a run report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtractionReport {
    /// Every (strategy, queries) point.
    pub points: Vec<ExtractionPoint>,
    /// Fewest queries with which some strategy reached 90% fidelity (`None`: none did).
    pub queries_for_90: Option<usize>,
    /// Fewest queries with which some strategy reached 99% fidelity.
    pub queries_for_99: Option<usize>,
    /// Fidelity of a clone that always answers the student's most common class: the
    /// floor any curve starts from.
    pub constant_baseline: f64,
    /// A per-client quota that keeps one client below the 90% point with a margin of ten:
    /// the 90% query count / 10 (`None` when no tried budget reached 90%, i.e. the largest
    /// tried budget is the only known-safe bound).
    pub recommended_quota: Option<usize>,
    /// How the curve was made and how to use it.
    pub note: String,
}

impl ExtractionReport {
    /// Builds the summary fields from the points.
    pub fn from_points(
        points: Vec<ExtractionPoint>,
        constant_baseline: f64,
        note: String,
    ) -> ExtractionReport {
        let fewest = |level: f64| {
            points
                .iter()
                .filter(|p| p.fidelity >= level)
                .map(|p| p.queries)
                .min()
        };
        let queries_for_90 = fewest(0.9);
        ExtractionReport {
            queries_for_99: fewest(0.99),
            recommended_quota: queries_for_90.map(|q| (q / 10).max(1)),
            queries_for_90,
            points,
            constant_baseline,
            note,
        }
    }

    /// One line for the summary.
    pub fn line(&self) -> String {
        let at = |q: Option<usize>| {
            q.map_or("not within the queries tried".to_string(), |q| {
                format!("{q} queries")
            })
        };
        format!(
            "extraction risk: a clone reaches 90% fidelity with {}, 99% with {} (a constant answer agrees {:.1}%){}\n",
            at(self.queries_for_90),
            at(self.queries_for_99),
            100.0 * self.constant_baseline,
            self.recommended_quota
                .map(|q| format!("; suggested [limits] quota per client: {q}"))
                .unwrap_or_default()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fewest_queries_reaching_each_level_set_the_quota() {
        let p = |s: &str, q, f| ExtractionPoint {
            strategy: s.into(),
            queries: q,
            fidelity: f,
        };
        let r = ExtractionReport::from_points(
            vec![
                p("uniform", 1000, 0.85),
                p("uniform", 10_000, 0.93),
                p("public sample", 300, 0.91),
                p("public sample", 3000, 0.995),
            ],
            0.76,
            String::new(),
        );
        assert_eq!(r.queries_for_90, Some(300));
        assert_eq!(r.queries_for_99, Some(3000));
        assert_eq!(r.recommended_quota, Some(30));
    }
}
