# Sourced by the text benches: the smallest soft-label recipe for a split directory holding
# train.csv and test.csv with a `text` column, a `label` target and the teacher's
# `teacher_p_*` probability columns (what tools/text_teacher.py writes).
# soft_label_recipe <name> prints it; callers append sections of their own.
soft_label_recipe() {
  cat <<TOML
name = "$1"
[data]
train = "train.csv"
test = "test.csv"
target = "label"
text = ["text"]
[teacher]
columns = "teacher_p_"
TOML
}
