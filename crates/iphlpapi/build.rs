//! Gives `libiphlpapi.so` its SONAME, `libiphlpapi.so.0`: programs linked
//! against it record that name, so an incompatible `libiphlpapi.so.1` can
//! be installed beside it later. The `0` is the ABI version: raise it when
//! a symbol's signature or a structure's layout changes incompatibly.

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libiphlpapi.so.0");
    println!("cargo:rerun-if-changed=build.rs");
}
