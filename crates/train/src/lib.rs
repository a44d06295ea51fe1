//! The MLP training engine of distillery: batched forward and backward passes on GEMM,
//! AdamW with a cosine schedule, the temperature-scaled distillation loss, early stopping
//! with best-weights restore, per-epoch checkpoints with bit-exact resume, the feature
//! encoder fit, MUNGE augmentation, and the in-house gradient-boosted teacher ([`fit_gbdt`]).
//!
//! It takes teacher probabilities as a plain matrix: running teachers is
//! `distillery-teacher`'s job, and predicting with the result is `distillery-runtime`'s.
//!
//! Main items: [`DistillParams`] → [`ValidDistillParams`], [`TransferSet`], [`fit`],
//! [`soften`], [`fit_encoder`], [`munge`].
//!
//! ```
//! use distillery_train::{DistillParams, TransferSet, FitOptions, fit, soften};
//! // Four rows, two inputs, a teacher that is sure of the sign of x0.
//! let x = [1.0, 0.0, -1.0, 0.0, 2.0, 1.0, -2.0, 1.0];
//! let teacher = [0.1, 0.9, 0.9, 0.1, 0.05, 0.95, 0.95, 0.05];
//! let params = DistillParams { hidden: vec![], epochs: 50, batch_size: 4, ..Default::default() }
//!     .check().unwrap();
//! let soft = soften(&teacher, 2, params.temperature);
//! let labels = [Some(1), Some(0), None, None];
//! let set = TransferSet { x: &x, width: 2, soft: Some(&soft), labels: &labels, classes: 2 };
//! let out = fit(&params, &set, None, &FitOptions::default())?;
//! assert_eq!(out.layers.len(), 1);
//! # Ok::<(), distillery_train::TrainError>(())
//! ```

pub mod accountant;
mod encode;
mod error;
pub mod evasion;
mod fit;
mod gbdt;
mod gemm;
mod gibbs;
mod loss;
mod munge;
mod network;
mod params;
mod token_augment;
mod word_vectors;

pub use encode::{
    EncoderOptions, MAX_LEVELS, encode_rows, fit_encoder, fit_encoder_with, raw_value,
};
pub use error::{ParamsError, Result, TrainError};
pub use fit::{Adversarial, DpSgd, EpochRecord, FitOptions, FitOutcome, TransferSet, fit};
pub use gbdt::{GbdtHead, GbdtModel, GbdtNode, GbdtParams, GbdtRows, fit_gbdt};
pub use gibbs::{GibbsParams, gibbs};
pub use loss::{Target, loss_and_grad, soften};
pub use munge::{MungeParams, POOL, munge};
pub use params::{DistillParams, MAX_EPOCHS, MAX_LAYER_WIDTH, MAX_LAYERS, ValidDistillParams};
pub use token_augment::{TokenParams, token_rows};
pub use word_vectors::{MAX_VECTOR_WORDS, VectorFile};
