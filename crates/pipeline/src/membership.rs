//! Membership inference in every run: the threshold attacks of
//! `distillery_eval::membership` on the teacher, the distilled student and the scratch
//! baseline, with the run's training rows as members and its test rows as non-members.

use distillery_eval::membership::{MembershipReport, attacks_on};
use distillery_runtime::Student;

use crate::data::Prepared;
use crate::teacher::TeacherOutputs;

/// The membership section; `None` without test rows or training rows.
pub(crate) fn report(
    data: &Prepared,
    teacher: &TeacherOutputs,
    student: &Student,
    scratch: &Student,
) -> Option<MembershipReport> {
    let k = data.labels.n_classes();
    let (n_train, n_test) = (data.train_rows.len(), data.test_rows.len());
    if n_train == 0 || n_test == 0 {
        return None;
    }
    let member_y: Vec<Option<u32>> = data.train_rows.iter().map(|&r| data.labels.y[r]).collect();
    let mut attacks = Vec::new();
    if teacher.train.len() == n_train * k && teacher.test.len() == n_test * k {
        attacks.extend(attacks_on(
            "teacher",
            k,
            &teacher.train,
            &member_y,
            &teacher.test,
            &data.test_labels,
        ));
    }
    for (name, model) in [("student", student), ("scratch", scratch)] {
        let members = model.predict_encoded_batch(&data.train_x, n_train);
        let others = model.predict_encoded_batch(&data.test_x, n_test);
        attacks.extend(attacks_on(
            name,
            k,
            &members,
            &member_y,
            &others,
            &data.test_labels,
        ));
    }
    let teacher_note = if teacher.in_house.is_some() {
        " The in-house teacher's answers on the training rows are its cross-fitted (out-of-fold) ones, the answers the student learnt from, so its numbers measure what distillation passed on, not the final teacher."
    } else {
        ""
    };
    Some(MembershipReport {
        attacks,
        note: format!(
            "Members are the {n_train} training rows, non-members the {n_test} test rows. AUC 0.5 and a TPR equal to its FPR mean the model's answers tell an attacker nothing about who was in the training set; a higher AUC or TPR is the leak.{teacher_note}"
        ),
    })
}
