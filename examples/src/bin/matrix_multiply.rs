//! Tutorial 08: a thread task with typed input and output.
//!
//! `cargo run --release -p examples --bin matrix_multiply`
//!
//! The input is two matrices, the output their product; the routine runs
//! on the compute pool and the callback prints the result.

#![forbid(unsafe_code)]

use wf::{ThreadTask, create_thread_task};

type Matrix = Vec<Vec<f64>>;

fn multiply(io: &mut (Matrix, Matrix)) -> Option<Matrix> {
    let (a, b) = io;
    let n = a.first()?.len();
    if n != b.len() || a.iter().any(|r| r.len() != n) || b.iter().any(|r| r.len() != b[0].len()) {
        return None;
    }
    let m = b[0].len();
    Some(a.iter().map(|row| (0..m).map(|j| (0..n).map(|k| row[k] * b[k][j]).sum()).collect()).collect())
}

fn print_matrix(m: &Matrix) {
    for row in m {
        println!("  {}", row.iter().map(|v| format!("{v:6.1}")).collect::<Vec<_>>().join(" "));
    }
}

fn callback(task: &mut ThreadTask<(Matrix, Matrix), Option<Matrix>>) {
    let (a, b) = task.input().expect("input is back after the routine");
    println!("a =");
    print_matrix(a);
    println!("b =");
    print_matrix(b);
    match task.output() {
        Some(Some(c)) => {
            println!("a x b =");
            print_matrix(c);
        }
        _ => println!("sizes do not match"),
    }
}

fn main() {
    let a = vec![vec![1.0, 2.0, 3.0], vec![4.0, 5.0, 6.0]];
    let b = vec![vec![7.0, 8.0], vec![9.0, 10.0], vec![11.0, 12.0]];
    create_thread_task("matrix", (a, b), multiply, callback).start();
    wf::wait_finish();

    println!();
    let bad = (vec![vec![1.0, 2.0]], vec![vec![1.0, 2.0]]);
    create_thread_task("matrix", bad, multiply, callback).start();
    wf::wait_finish();
}
