//! The one place this crate calls into `matrixmultiply`'s strided SGEMM; strides let the
//! backward pass use transposed operands without copying them.

/// A row-major or transposed view of a dense f32 matrix.
#[derive(Clone, Copy)]
pub(crate) struct Mat<'a> {
    pub(crate) data: &'a [f32],
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) row_stride: usize,
    pub(crate) col_stride: usize,
}

impl<'a> Mat<'a> {
    /// A row-major `rows × cols` matrix.
    pub(crate) fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Mat {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose, as a view.
    pub(crate) fn t(self) -> Self {
        Mat {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }

    fn covers(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride
                < self.data.len()
    }
}

/// `c = a · b + beta · c` with `c` row-major `a.rows × b.cols`.
pub(crate) fn gemm(a: Mat<'_>, b: Mat<'_>, beta: f32, c: &mut [f32]) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert!(
        b.rows == k && a.covers() && b.covers() && c.len() >= m * n,
        "gemm shapes: {m}×{k} · {}×{n} into {}",
        b.rows,
        c.len()
    );
    if m == 0 || n == 0 {
        return;
    }
    #[allow(
        unsafe_code,
        reason = "matrixmultiply only exposes an unsafe sgemm; the assert above proves every strided access is in bounds"
    )]
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.data.as_ptr(),
            a.row_stride as isize,
            a.col_stride as isize,
            b.data.as_ptr(),
            b.row_stride as isize,
            b.col_stride as isize,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposed_views_multiply_correctly() {
        // a = [[1,2],[3,4]], b = [[5,6],[7,8]]; aᵀ·b = [[26,30],[38,44]]
        let a = [1.0, 2.0, 3.0, 4.0];
        let b = [5.0, 6.0, 7.0, 8.0];
        let mut c = [0.0; 4];
        gemm(Mat::new(&a, 2, 2).t(), Mat::new(&b, 2, 2), 0.0, &mut c);
        assert_eq!(c, [26.0, 30.0, 38.0, 44.0]);
        gemm(Mat::new(&a, 2, 2), Mat::new(&b, 2, 2).t(), 0.0, &mut c);
        assert_eq!(c, [17.0, 23.0, 39.0, 53.0]);
    }
}
