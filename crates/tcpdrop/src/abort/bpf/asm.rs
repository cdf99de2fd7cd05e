//! A tiny eBPF assembler: the few instructions the program uses, encoded
//! as `struct bpf_insn` ([`Documentation/bpf/standardization/instruction-set.rst`]):
//! an opcode byte, the destination and source registers in one byte (low
//! and high nibble), a signed 16-bit offset and a signed 32-bit immediate,
//! little-endian.
//!
//! [`Documentation/bpf/standardization/instruction-set.rst`]: https://docs.kernel.org/bpf/standardization/instruction-set.html

/// One instruction, as the kernel reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub(crate) struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

/// A register: `R0` (return value), `R1`–`R5` (arguments, clobbered by
/// calls), `R6`–`R9` (kept across calls), `R10` (frame pointer, read-only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reg(pub(crate) u8);

pub(crate) const R0: Reg = Reg(0);
pub(crate) const R1: Reg = Reg(1);
pub(crate) const R2: Reg = Reg(2);
pub(crate) const R6: Reg = Reg(6);
pub(crate) const R7: Reg = Reg(7);
pub(crate) const R10: Reg = Reg(10);

/// Access sizes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Size {
    /// One byte (`BPF_B`).
    B = 0x10,
    /// Four bytes (`BPF_W`).
    W = 0x00,
    /// Eight bytes (`BPF_DW`).
    DW = 0x18,
}

const LD: u8 = 0x00;
const LDX: u8 = 0x01;
const STX: u8 = 0x03;
const ALU: u8 = 0x04;
const JMP: u8 = 0x05;
const ALU64: u8 = 0x07;
const MEM: u8 = 0x60;
const IMM: u8 = 0x00;
const K: u8 = 0x00;
const X: u8 = 0x08;
const ADD: u8 = 0x00;
const SUB: u8 = 0x10;
const MOV: u8 = 0xb0;
const JEQ: u8 = 0x10;
const CALL: u8 = 0x80;
const EXIT: u8 = 0x90;
/// `src_reg` of a 64-bit immediate load that names a map by its fd.
const PSEUDO_MAP_FD: u8 = 1;
/// `src_reg` of a call to a kernel function by its BTF id.
const PSEUDO_KFUNC_CALL: u8 = 2;

fn insn(code: u8, dst: Reg, src: Reg, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (dst.0 & 0xf) | (src.0 << 4),
        off,
        imm,
    }
}

/// A program being written, with forward jumps to one label, "out".
#[derive(Default)]
pub(crate) struct Asm {
    insns: Vec<Insn>,
    /// Indices of the jumps to patch once "out" is placed.
    to_out: Vec<usize>,
}

impl Asm {
    fn push(&mut self, i: Insn) -> &mut Asm {
        self.insns.push(i);
        self
    }

    /// `dst = *(size *)(src + off)`
    pub(crate) fn load(&mut self, size: Size, dst: Reg, src: Reg, off: i16) -> &mut Asm {
        self.push(insn(LDX | size as u8 | MEM, dst, src, off, 0))
    }

    /// `*(size *)(dst + off) = src`
    pub(crate) fn store(&mut self, size: Size, dst: Reg, off: i16, src: Reg) -> &mut Asm {
        self.push(insn(STX | size as u8 | MEM, dst, src, off, 0))
    }

    /// `dst = src` (64 bits)
    pub(crate) fn mov(&mut self, dst: Reg, src: Reg) -> &mut Asm {
        self.push(insn(ALU64 | MOV | X, dst, src, 0, 0))
    }

    /// `dst = imm` (32 bits, the upper half zeroed)
    pub(crate) fn mov32_imm(&mut self, dst: Reg, imm: i32) -> &mut Asm {
        self.push(insn(ALU | MOV | K, dst, R0, 0, imm))
    }

    /// `dst -= src` (32 bits, the upper half zeroed)
    pub(crate) fn sub32(&mut self, dst: Reg, src: Reg) -> &mut Asm {
        self.push(insn(ALU | SUB | X, dst, src, 0, 0))
    }

    /// `dst += imm` (64 bits)
    pub(crate) fn add_imm(&mut self, dst: Reg, imm: i32) -> &mut Asm {
        self.push(insn(ALU64 | ADD | K, dst, R0, 0, imm))
    }

    /// `if dst == imm goto out`
    pub(crate) fn jeq_out(&mut self, dst: Reg, imm: i32) -> &mut Asm {
        self.to_out.push(self.insns.len());
        self.push(insn(JMP | JEQ | K, dst, R0, 0, imm))
    }

    /// `dst = map` (the map's fd, which the kernel replaces by the map:
    /// two instructions)
    pub(crate) fn load_map(&mut self, dst: Reg, fd: i32) -> &mut Asm {
        self.push(insn(
            LD | Size::DW as u8 | IMM,
            dst,
            Reg(PSEUDO_MAP_FD),
            0,
            fd,
        ));
        self.push(insn(0, R0, R0, 0, 0))
    }

    /// Call helper number `id` (`R1`–`R5` in, `R0` out).
    pub(crate) fn call(&mut self, id: i32) -> &mut Asm {
        self.push(insn(JMP | CALL, R0, R0, 0, id))
    }

    /// Call the kernel function with BTF id `btf_id` in vmlinux's BTF.
    pub(crate) fn call_kfunc(&mut self, btf_id: u32) -> &mut Asm {
        let imm = i32::try_from(btf_id).unwrap_or(i32::MAX);
        self.push(insn(JMP | CALL, R0, Reg(PSEUDO_KFUNC_CALL), 0, imm))
    }

    /// Place "out" here.
    pub(crate) fn out(&mut self) -> &mut Asm {
        let here = self.insns.len();
        for &at in &self.to_out {
            if let Some(jump) = self.insns.get_mut(at) {
                jump.off = i16::try_from(here - at - 1).unwrap_or(i16::MAX);
            }
        }
        self.to_out.clear();
        self
    }

    /// `return imm`
    pub(crate) fn exit_with(&mut self, imm: i32) -> &mut Asm {
        self.mov32_imm(R0, imm);
        self.push(insn(JMP | EXIT, R0, R0, 0, 0))
    }

    /// The instructions.
    pub(crate) fn finish(&mut self) -> Vec<Insn> {
        std::mem::take(&mut self.insns)
    }
}

impl Insn {
    /// The eight bytes the kernel reads.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> [u8; 8] {
        let mut out = [0; 8];
        out[0] = self.code;
        out[1] = self.regs;
        out[2..4].copy_from_slice(&self.off.to_le_bytes());
        out[4..8].copy_from_slice(&self.imm.to_le_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rustfmt::skip]
    #[test]
    fn encodes_as_the_kernel_reads() {
        let mut asm = Asm::default();
        asm.load(Size::DW, R6, R1, 8)
            .jeq_out(R6, 0)
            .load(Size::B, R2, R6, 18)
            .store(Size::DW, R10, -8, R2)
            .load_map(R1, 7)
            .add_imm(R2, -8)
            .call(1)
            .call_kfunc(0x1234)
            .mov32_imm(R7, 1)
            .sub32(R7, R0)
            .mov(R1, R6)
            .out()
            .exit_with(0);
        let bytes: Vec<[u8; 8]> = asm.finish().iter().map(Insn::bytes).collect();
        assert_eq!(bytes, vec![
            [0x79, 0x16, 8, 0, 0, 0, 0, 0],             // r6 = *(u64 *)(r1 + 8)
            [0x15, 0x06, 10, 0, 0, 0, 0, 0],            // if r6 == 0 goto +10
            [0x71, 0x62, 18, 0, 0, 0, 0, 0],            // r2 = *(u8 *)(r6 + 18)
            [0x7b, 0x2a, 0xf8, 0xff, 0, 0, 0, 0],       // *(u64 *)(r10 - 8) = r2
            [0x18, 0x11, 0, 0, 7, 0, 0, 0],             // r1 = map fd 7 ...
            [0, 0, 0, 0, 0, 0, 0, 0],                   // ... its upper half
            [0x07, 0x02, 0, 0, 0xf8, 0xff, 0xff, 0xff], // r2 += -8
            [0x85, 0x00, 0, 0, 1, 0, 0, 0],             // call 1
            [0x85, 0x20, 0, 0, 0x34, 0x12, 0, 0],       // call kfunc 0x1234
            [0xb4, 0x07, 0, 0, 1, 0, 0, 0],             // w7 = 1
            [0x1c, 0x07, 0, 0, 0, 0, 0, 0],             // w7 -= w0
            [0xbf, 0x61, 0, 0, 0, 0, 0, 0],             // r1 = r6
            [0xb4, 0x00, 0, 0, 0, 0, 0, 0],             // out: w0 = 0
            [0x95, 0x00, 0, 0, 0, 0, 0, 0],             // exit
        ]);
    }
}
