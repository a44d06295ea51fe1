//! `[distill] adversarial`: where the training batches' adversarial rows may move, from the
//! encoder and the encoded training rows.

use distillery_runtime::FeatureEncoder;
use distillery_train::evasion::{Attack, Constraints, Norm};

use crate::data::Prepared;
use crate::error::{Result, refuse};
use crate::recipe::AdversarialSection;

/// The attack and the constraints for adversarial training: each numeric feature's
/// standardised slot moves inside its training range unless immutable or missing (its
/// missing indicator freezes it); every other slot stays.
///
/// # Errors
/// An immutable column that is not a numeric feature.
pub(crate) fn plan(
    section: &AdversarialSection,
    prepared: &Prepared,
) -> Result<(Attack, Constraints)> {
    let encoder = &prepared.encoder;
    for name in &section.immutable {
        let numeric = encoder
            .features
            .iter()
            .any(|f| f.name() == name && matches!(f, FeatureEncoder::Numeric { .. }));
        if !numeric {
            refuse!(
                "[distill] adversarial: immutable column '{name}' is not a numeric feature (categorical columns never move in training)"
            );
        }
    }
    let width = encoder.width();
    let mut c = Constraints {
        lo: vec![f32::NEG_INFINITY; width],
        hi: vec![f32::INFINITY; width],
        movable: vec![0.0; width],
        frozen_by: vec![None; width],
    };
    let rows = prepared.train_x.len() / width.max(1);
    let mut at = 0;
    for feature in &encoder.features {
        if let FeatureEncoder::Numeric {
            name,
            missing_indicator,
            ..
        } = feature
            && !section.immutable.contains(name)
        {
            let column = (0..rows).map(|r| prepared.train_x[r * width + at]);
            let (lo, hi) = column.fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), v| {
                (l.min(v), h.max(v))
            });
            if lo < hi {
                c.movable[at] = 1.0;
                c.lo[at] = lo;
                c.hi[at] = hi;
                c.frozen_by[at] = missing_indicator.then_some(at + 1);
            }
        }
        at += feature.width();
    }
    let eps = section.epsilon;
    let attack = Attack::pgd(
        Norm::Inf,
        eps,
        2.5 * eps / section.steps as f32,
        section.steps,
    );
    Ok((attack, c))
}
