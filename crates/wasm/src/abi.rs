//! The module's exports: raw `extern "C"` functions over linear memory, the only unsafe code of
//! the crate (why: a plain WebAssembly module with no generated glue, loaded by a few lines of
//! JavaScript, `packages/engine/index.mjs`). Every call goes to [`crate::api::respond`].
//!
//! The protocol: the caller asks `sk_alloc(len)` for a buffer, writes its UTF-8 JSON request
//! there, and passes it to `sk_call(ptr, len)`, which takes the buffer back and answers a
//! `u64`: the answer's address in the high 32 bits, its length in the low 32. The caller reads
//! the answer and gives it back with `sk_free(ptr, len)`. Covered by `packages/engine`'s node
//! test, which runs every case of `cases.json` through these three functions.
#![allow(unsafe_code)]

/// A buffer of `len` bytes for a request; the caller fills it and passes it to [`sk_call`].
#[unsafe(no_mangle)]
pub extern "C" fn sk_alloc(len: usize) -> *mut u8 {
    let mut buffer = std::mem::ManuallyDrop::new(Vec::<u8>::with_capacity(len));
    buffer.as_mut_ptr()
}

/// Gives back an answer of [`sk_call`] (or an unused request buffer) of `len` bytes.
///
/// # Safety
/// `ptr` and `len` must be an answer of [`sk_call`], or a buffer of [`sk_alloc`] and its
/// `len`, given back once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sk_free(ptr: *mut u8, len: usize) {
    // SAFETY: the caller gives back what `sk_alloc` or `sk_call` made, whose capacity is `len`.
    drop(unsafe { Vec::from_raw_parts(ptr, 0, len) });
}

/// Answers the request of `len` bytes at `ptr` (a buffer of [`sk_alloc`], taken back here):
/// the answer's address in the high 32 bits, its length in the low 32.
///
/// # Safety
/// `ptr` must be a buffer of `sk_alloc(len)` holding `len` written bytes, not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sk_call(ptr: *mut u8, len: usize) -> u64 {
    // SAFETY: `sk_alloc(len)` made this buffer with capacity `len`; the caller wrote `len`
    // bytes and hands it over.
    let request = unsafe { Vec::from_raw_parts(ptr, len, len) };
    let answer = crate::api::respond(&request)
        .into_bytes()
        .into_boxed_slice();
    let len = answer.len() as u64;
    let ptr = Box::into_raw(answer) as *mut u8 as usize as u64;
    (ptr << 32) | len
}

/// The engine needs no randomness (alloy's local signer brings getrandom along): any call is
/// an error, never a guess.
#[cfg(target_arch = "wasm32")]
fn no_randomness(_buffer: &mut [u8]) -> Result<(), getrandom::Error> {
    Err(getrandom::Error::UNSUPPORTED)
}

#[cfg(target_arch = "wasm32")]
getrandom::register_custom_getrandom!(no_randomness);
