//! Runs the kernel's wasm32 build (the C ABI of `kernel::ffi`, with no
//! imports) under wasmtime, so tests can compare it with the native build and
//! benchmarks can time it.
//!
//! `build.rs` compiles the module; [`KERNEL_WASM_PATH`] says where it is.
//! [`WasmKernel`] owns one instance and copies matrices in and out of its
//! linear memory. Pointers into that memory are plain `u32` offsets that are
//! only used between a copy-in and the matching call, never kept across a
//! call that may grow memory.

use std::sync::OnceLock;

use wasmtime::{Engine, Instance, Memory, Module, Store, TypedFunc, bail, format_err};

/// Path of the kernel's wasm32 `simd128` module, built by `build.rs`.
pub const KERNEL_WASM_PATH: &str = env!("KERNEL_WASM_PATH");

/// Path of the kernel's wasm32 `simd128` + `relaxed-simd` module (fused
/// multiply-adds), built by `build.rs`.
pub const KERNEL_RELAXED_WASM_PATH: &str = env!("KERNEL_RELAXED_WASM_PATH");

/// The kernel's success status (`kernel::ffi::KERNEL_OK`).
pub const KERNEL_OK: i32 = 0;

/// A `multiply` entry point: `(a, m, k, b, n, c) -> status`.
type MultiplyFn = TypedFunc<(u32, u32, u32, u32, u32, u32), i32>;

/// One instance of the kernel's wasm32 module.
pub struct WasmKernel {
    store: Store<()>,
    memory: Memory,
    alloc: TypedFunc<u32, u32>,
    free: TypedFunc<(u32, u32), ()>,
    isa: TypedFunc<(), u32>,
    multiply_f64: MultiplyFn,
    multiply_i64: MultiplyFn,
    baseline_dgemm: MultiplyFn,
    multiply_text: MultiplyFn,
}

/// Operands copied into the instance's memory and room for the product,
/// ready for repeated calls (see [`WasmKernel::upload`]).
#[derive(Debug, Clone, Copy)]
pub struct Operands {
    a: u32,
    b: u32,
    c: u32,
    m: u32,
    k: u32,
    n: u32,
}

/// The function that [`WasmKernel::run`] calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// `kernel_multiply_f64`: this kernel in `f64`.
    KernelF64,
    /// `kernel_multiply_i64`: this kernel, exact integers.
    KernelI64,
    /// `kernel_baseline_dgemm`: the `matrixmultiply` crate compiled to wasm32.
    BaselineDgemm,
}

impl WasmKernel {
    /// Instantiates the module at [`KERNEL_WASM_PATH`], compiled once per
    /// process and shared by every instance.
    ///
    /// # Errors
    /// When the module cannot be read, compiled or instantiated, or lacks an
    /// export.
    pub fn load() -> wasmtime::Result<Self> {
        static COMPILED: OnceLock<Result<(Engine, Module), String>> = OnceLock::new();
        Self::load_cached(&COMPILED, KERNEL_WASM_PATH)
    }

    /// Instantiates the `relaxed-simd` module at
    /// [`KERNEL_RELAXED_WASM_PATH`], compiled once per process.
    ///
    /// # Errors
    /// As [`WasmKernel::load`].
    pub fn load_relaxed() -> wasmtime::Result<Self> {
        static COMPILED: OnceLock<Result<(Engine, Module), String>> = OnceLock::new();
        Self::load_cached(&COMPILED, KERNEL_RELAXED_WASM_PATH)
    }

    fn load_cached(
        cache: &OnceLock<Result<(Engine, Module), String>>,
        path: &str,
    ) -> wasmtime::Result<Self> {
        let compiled = cache.get_or_init(|| {
            let bytes = std::fs::read(path).map_err(|e| format!("reading {path}: {e}"))?;
            let engine = Engine::default();
            let module =
                Module::new(&engine, bytes).map_err(|e| format!("compiling {path}: {e:#}"))?;
            Ok((engine, module))
        });
        match compiled {
            Ok((engine, module)) => Self::instantiate(engine, module),
            Err(message) => bail!("{message}"),
        }
    }

    /// Compiles and instantiates a kernel module, which must need no imports.
    ///
    /// # Errors
    /// As [`WasmKernel::load`].
    pub fn from_bytes(bytes: &[u8]) -> wasmtime::Result<Self> {
        let engine = Engine::default();
        let module = Module::new(&engine, bytes)?;
        Self::instantiate(&engine, &module)
    }

    fn instantiate(engine: &Engine, module: &Module) -> wasmtime::Result<Self> {
        if let Some(import) = module.imports().next() {
            bail!(
                "the kernel module must not import anything, but imports {}::{}",
                import.module(),
                import.name()
            );
        }
        let mut store = Store::new(engine, ());
        let instance = Instance::new(&mut store, module, &[])?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| format_err!("the kernel module exports no memory"))?;
        Ok(Self {
            alloc: instance.get_typed_func(&mut store, "kernel_alloc")?,
            free: instance.get_typed_func(&mut store, "kernel_free")?,
            isa: instance.get_typed_func(&mut store, "kernel_isa")?,
            multiply_f64: instance.get_typed_func(&mut store, "kernel_multiply_f64")?,
            multiply_i64: instance.get_typed_func(&mut store, "kernel_multiply_i64")?,
            baseline_dgemm: instance.get_typed_func(&mut store, "kernel_baseline_dgemm")?,
            multiply_text: instance.get_typed_func(&mut store, "kernel_multiply_text")?,
            memory,
            store,
        })
    }

    /// The module's `kernel_isa()`: the index in `kernel::gemm::Isa::ALL` of
    /// the kernel it uses (2 for simd128).
    ///
    /// # Errors
    /// When the call traps.
    pub fn isa(&mut self) -> wasmtime::Result<u32> {
        self.isa.call(&mut self.store, ())
    }

    /// Copies an `m x k` and a `k x n` matrix of 8-byte values into the
    /// instance's memory and reserves room for the `m x n` product.
    ///
    /// # Errors
    /// When a length does not match its shape or the instance is out of memory.
    pub fn upload<T: Element>(
        &mut self,
        a: &[T],
        m: usize,
        k: usize,
        b: &[T],
        n: usize,
    ) -> wasmtime::Result<Operands> {
        if a.len() != m * k || b.len() != k * n {
            bail!("buffer lengths do not match the shapes");
        }
        let a_ptr = self.copy_in(a)?;
        let b_ptr = self.copy_in(b)?;
        let c_ptr = self.allocate(m * n * 8)?;
        Ok(Operands {
            a: a_ptr,
            b: b_ptr,
            c: c_ptr,
            m: to_u32(m)?,
            k: to_u32(k)?,
            n: to_u32(n)?,
        })
    }

    /// Calls `entry` on uploaded operands and returns its status.
    ///
    /// # Errors
    /// When the call traps.
    pub fn run(&mut self, entry: Entry, ops: &Operands) -> wasmtime::Result<i32> {
        let function = match entry {
            Entry::KernelF64 => &self.multiply_f64,
            Entry::KernelI64 => &self.multiply_i64,
            Entry::BaselineDgemm => &self.baseline_dgemm,
        };
        function.call(&mut self.store, (ops.a, ops.m, ops.k, ops.b, ops.n, ops.c))
    }

    /// Reads the `m x n` product of the last [`WasmKernel::run`].
    ///
    /// # Errors
    /// When the memory range is out of bounds.
    pub fn product<T: Element>(&mut self, ops: &Operands) -> wasmtime::Result<Vec<T>> {
        let mut bytes = vec![0u8; ops.m as usize * ops.n as usize * 8];
        self.memory.read(&self.store, ops.c as usize, &mut bytes)?;
        Ok(bytes
            .chunks_exact(8)
            .map(|chunk| T::from_le_bytes(chunk.try_into().unwrap_or([0; 8])))
            .collect())
    }

    /// Frees the buffers of `ops`.
    ///
    /// # Errors
    /// When a call traps.
    pub fn release(&mut self, ops: Operands) -> wasmtime::Result<()> {
        let (m, k, n) = (ops.m as usize, ops.k as usize, ops.n as usize);
        for (ptr, len) in [(ops.a, m * k), (ops.b, k * n), (ops.c, m * n)] {
            self.free.call(&mut self.store, (ptr, to_u32(len * 8)?))?;
        }
        Ok(())
    }

    /// Uploads, runs `entry` once, reads the product and frees: the product
    /// on success, the kernel's status code otherwise.
    ///
    /// # Errors
    /// When the wasm machinery fails (not when the kernel reports a status).
    pub fn multiply<T: Element>(
        &mut self,
        entry: Entry,
        a: &[T],
        m: usize,
        k: usize,
        b: &[T],
        n: usize,
    ) -> wasmtime::Result<Result<Vec<T>, i32>> {
        let ops = self.upload(a, m, k, b, n)?;
        let status = self.run(entry, &ops)?;
        let product = if status == KERNEL_OK {
            Ok(self.product(&ops)?)
        } else {
            Err(status)
        };
        self.release(ops)?;
        Ok(product)
    }

    /// `kernel_multiply_text`: the product's Dana text, or the kernel's
    /// status code and error message.
    ///
    /// # Errors
    /// When the wasm machinery fails.
    pub fn multiply_text(
        &mut self,
        a: &str,
        b: &str,
    ) -> wasmtime::Result<Result<String, (i32, String)>> {
        let a_ptr = self.copy_bytes_in(a.as_bytes())?;
        let b_ptr = self.copy_bytes_in(b.as_bytes())?;
        // Two u32 out-parameters: the text's pointer and its length.
        let out = self.allocate(8)?;
        let status = self.multiply_text.call(
            &mut self.store,
            (
                a_ptr,
                to_u32(a.len())?,
                b_ptr,
                to_u32(b.len())?,
                out,
                out + 4,
            ),
        )?;
        let mut words = [0u8; 8];
        self.memory.read(&self.store, out as usize, &mut words)?;
        let text_ptr = u32::from_le_bytes([words[0], words[1], words[2], words[3]]);
        let text_len = u32::from_le_bytes([words[4], words[5], words[6], words[7]]);
        let mut text = vec![0u8; text_len as usize];
        self.memory
            .read(&self.store, text_ptr as usize, &mut text)?;
        for (ptr, len) in [
            (a_ptr, a.len()),
            (b_ptr, b.len()),
            (out, 8),
            (text_ptr, text.len().max(1)),
        ] {
            self.free
                .call(&mut self.store, (ptr, to_u32(len.max(1))?))?;
        }
        let text =
            String::from_utf8(text).map_err(|e| format_err!("kernel wrote invalid UTF-8: {e}"))?;
        Ok(if status == KERNEL_OK {
            Ok(text)
        } else {
            Err((status, text))
        })
    }

    fn allocate(&mut self, bytes: usize) -> wasmtime::Result<u32> {
        let ptr = self.alloc.call(&mut self.store, to_u32(bytes.max(1))?)?;
        if ptr == 0 {
            bail!("the kernel instance is out of memory ({bytes} bytes)");
        }
        Ok(ptr)
    }

    fn copy_bytes_in(&mut self, bytes: &[u8]) -> wasmtime::Result<u32> {
        let ptr = self.allocate(bytes.len())?;
        self.memory.write(&mut self.store, ptr as usize, bytes)?;
        Ok(ptr)
    }

    fn copy_in<T: Element>(&mut self, values: &[T]) -> wasmtime::Result<u32> {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.copy_bytes_in(&bytes)
    }
}

/// An 8-byte matrix element the module understands (`f64` or `i64`).
pub trait Element: Copy {
    /// Little-endian bytes, as wasm memory stores them.
    fn to_le_bytes(self) -> [u8; 8];
    /// The value from little-endian bytes.
    fn from_le_bytes(bytes: [u8; 8]) -> Self;
}

impl Element for f64 {
    fn to_le_bytes(self) -> [u8; 8] {
        f64::to_le_bytes(self)
    }
    fn from_le_bytes(bytes: [u8; 8]) -> Self {
        f64::from_le_bytes(bytes)
    }
}

impl Element for i64 {
    fn to_le_bytes(self) -> [u8; 8] {
        i64::to_le_bytes(self)
    }
    fn from_le_bytes(bytes: [u8; 8]) -> Self {
        i64::from_le_bytes(bytes)
    }
}

fn to_u32(value: usize) -> wasmtime::Result<u32> {
    u32::try_from(value).map_err(|_| format_err!("{value} does not fit a wasm32 address"))
}
