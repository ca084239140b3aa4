use super::*;

#[test]
fn doubles_are_written_as_postgresql_writes_them() {
    for (v, text) in [
        (12123457.0, "12123457"),
        (1.5, "1.5"),
        (0.1, "0.1"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (1e14, "100000000000000"),
        (1e15, "1e+15"),
        (1.2123457e20, "1.2123457e+20"),
        (-2.5e-300, "-2.5e-300"),
        (1.0 / 3.0, "0.3333333333333333"),
        (f64::INFINITY, "Infinity"),
        (f64::NEG_INFINITY, "-Infinity"),
        (f64::NAN, "NaN"),
        (-0.0, "-0"),
        (0.0, "0"),
    ] {
        assert_eq!(float8(v), text, "{v:?}");
    }
}

#[test]
fn reals_switch_to_exponents_from_the_sixth_digit() {
    for (v, text) in [
        (123456.0_f32, "123456"),
        (1234567.0_f32, "1.234567e+06"),
        (0.1_f32, "0.1"),
        (3.5_f32, "3.5"),
        (f32::INFINITY, "Infinity"),
    ] {
        assert_eq!(float4(v), text, "{v:?}");
    }
}
