//! `[student.text] vectors`: the word vectors a text student averages beside its hashed
//! n-grams, from a `.vec` file or from the transformer teacher's own encoder.

use std::path::Path;
use std::sync::Arc;

use distillery_data::{Kind, Table};

use crate::error::{Context, Result, data_error, refuse};
use crate::recipe::Recipe;

/// The word vectors `[student.text] vectors` asks for: a `.vec` file read and parsed, or
/// (`"teacher"`, and by default when the teacher is a transformer run here) the training
/// texts' words through the teacher's own encoder; `"none"` turns them off.
pub(crate) fn word_vectors(
    recipe: &Recipe,
    features: &[(String, Kind)],
    table: &Table,
    rows: &[usize],
) -> Result<Option<Arc<distillery_train::VectorFile>>> {
    let texts: Vec<&str> = features
        .iter()
        .filter(|(_, k)| *k == Kind::Text)
        .map(|(f, _)| f.as_str())
        .collect();
    let transformer = match (&recipe.teacher.onnx, &recipe.teacher.tokenizer) {
        (Some(onnx), Some(tokenizer)) => Some((onnx, tokenizer)),
        _ => None,
    };
    let choice = recipe.student.text.vectors.as_deref();
    let path = match choice {
        Some(p) if p == Path::new(crate::recipe::VECTORS_OFF) => return Ok(None),
        Some(p) if p == Path::new(crate::recipe::VECTORS_FROM_TEACHER) => {
            let Some((onnx, tokenizer)) = transformer else {
                refuse!(
                    "[student.text] vectors = \"teacher\" takes word vectors from a transformer teacher run here; give [teacher] onnx and tokenizer, or a .vec file"
                );
            };
            no_text_column(&texts, crate::recipe::VECTORS_FROM_TEACHER)?;
            return Ok(Some(Arc::new(teacher_vectors(
                onnx, tokenizer, &texts, table, rows,
            )?)));
        }
        Some(p) => p,
        None => {
            return match transformer {
                Some((onnx, tokenizer)) if !texts.is_empty() => Ok(Some(Arc::new(
                    teacher_vectors(onnx, tokenizer, &texts, table, rows)?,
                ))),
                _ => Ok(None),
            };
        }
    };
    no_text_column(&texts, &path.display().to_string())?;
    let text = std::fs::read_to_string(path).map_err(|e| {
        data_error!(
            "[student.text] vectors: cannot read {}: {e}",
            path.display()
        )
    })?;
    let file = distillery_train::VectorFile::parse(&text).map_err(|e| {
        data_error!(
            "[student.text] vectors: {} is not a word-vector file ({e}); expected the fastText .vec text format: one 'word v1 … vN' line per word",
            path.display()
        )
    })?;
    Ok(Some(Arc::new(file)))
}

/// Refuses word vectors (`choice`) for data without a text column to apply them to.
fn no_text_column(texts: &[&str], choice: &str) -> Result<()> {
    if texts.is_empty() {
        refuse!(
            "[student.text] vectors = \"{choice}\": the data have no text column for word vectors; list one in [data] text, or remove vectors"
        );
    }
    Ok(())
}

/// Model2Vec-style vectors: the [`distillery_train::MAX_VECTOR_WORDS`] words met in the most
/// training texts, each through the teacher's encoder alone, projected on the top
/// [`crate::recipe::TEACHER_VECTOR_DIMS`] principal components.
pub(crate) fn teacher_vectors(
    onnx: &Path,
    tokenizer: &Path,
    columns: &[&str],
    table: &Table,
    rows: &[usize],
) -> Result<distillery_train::VectorFile> {
    let mut df: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for name in columns {
        let column = table.column(name)?;
        for &r in rows {
            let mut words =
                distillery_runtime::text_tokens(column.text(r).unwrap_or(""), usize::MAX);
            words.sort_unstable();
            words.dedup();
            for w in words {
                *df.entry(w).or_default() += 1;
            }
        }
    }
    let mut words: Vec<(String, usize)> = df.into_iter().collect();
    words.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    words.truncate(distillery_train::MAX_VECTOR_WORDS);
    let words: Vec<String> = words.into_iter().map(|(w, _)| w).collect();
    tracing::info!(
        words = words.len(),
        "word vectors: running each word through the teacher's encoder"
    );
    let (values, dim) = distillery_teacher::word_embeddings(onnx, tokenizer, &words)
        .with_context(|| format!("word vectors from teacher {}", onnx.display()))?;
    Ok(distillery_train::VectorFile::from_embeddings(
        &words,
        &values,
        dim,
        crate::recipe::TEACHER_VECTOR_DIMS,
    ))
}
