//! Compiles the shared protos (`proto/dozer/*.proto`: the common service and the types every
//! generated service uses) into Rust, with protox instead of protoc so that nothing has to be
//! installed.

use std::error::Error;

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo:rerun-if-changed=proto");
    let files = protox::compile(["dozer/types.proto", "dozer/common.proto"], ["proto"])?;
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(true)
        .compile_fds(files)?;
    Ok(())
}
