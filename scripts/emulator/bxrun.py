#!/usr/bin/env python3
"""bxrun.py - run a STATIC x86-64 Linux ELF (non-PIE) on the Bochs CPU emulator
(bochscpu-python 0.4.0 from PyPI), with a minimal Linux syscall layer in Python.

The emulated CPU model is picked by isoc23_shim.so (LD_PRELOAD) from $BXRUN_MODEL, default
sapphire_rapids (AVX512F/CD/BW/DQ/VL + AVX512_VNNI + AVX512_BF16 + ...). Without the shim the
wheel uses corei3_cnl (AVX-512 but no BF16) and does not even import on glibc 2.36.
Normally started by scripts/emulator/run.sh, which sets up the venv and the shim.

Usage: bxrun.py [-v] ./static_prog [args...]      (-v: trace every syscall on stderr)
Guest environment: PATH, HOME and the host's LIBXSMM_*, PROBE_*, GUEST_*, LSTM_DIST_* variables.
Limitations: single thread (clone -> ENOSYS), no files (open -> ENOENT; readlink of
/proc/self/exe answers), no signals delivered (a #UD / #PF in the guest, or a raised signal such
as abort's, ends the run with exit 128+n), anonymous mmap only, guest clock = host clock.
"""
import os, struct, sys, time

import bochscpu
import bochscpu.cpu
import bochscpu.memory as mem

VERBOSE = False
PAGE = 0x1000
# paging structures live above 4 GiB in guest-physical space (never mapped virtually)
PT_BASE = 0x1_0000_0000
LSTAR = 0xFFFF_F000          # syscall entry: a page of NOPs+JMP $ at the top of the first 4 GiB
STACK_TOP = 0xFF00_0000
MMAP_BASE = 0x4000_0000
MMAP_END = 0xF000_0000

host_pages = {}


def missing_page(gpa):
    """Lazily back any guest-physical page with a fresh zeroed host page."""
    gpa &= ~(PAGE - 1)
    if gpa in host_pages:
        return
    hva = mem.allocate_host_page()
    mem.page_insert(gpa, hva)
    host_pages[gpa] = hva


def pwrite(addr, data):
    data = bytes(data)
    off = 0
    while off < len(data):
        a = addr + off
        n = min(len(data) - off, PAGE - (a & (PAGE - 1)))
        missing_page(a)
        mem.phy_write(a, list(data[off:off + n]))
        off += n


def pread(addr, size):
    out = bytearray()
    off = 0
    while off < size:
        a = addr + off
        n = min(size - off, PAGE - (a & (PAGE - 1)))
        missing_page(a)
        out += bytes(mem.phy_read(a, n))
        off += n
    return bytes(out)


def cstr(addr, maxlen=4096):
    s = bytearray()
    while len(s) < maxlen:
        chunk = pread(addr + len(s), 64)
        i = chunk.find(b"\0")
        if i >= 0:
            s += chunk[:i]
            break
        s += chunk
    return bytes(s)


def build_page_tables():
    """Identity map VA [0, 4 GiB) -> PA [0, 4 GiB) with 2 MiB pages, user+writable+present."""
    pml4, pdpt = PT_BASE, PT_BASE + PAGE
    pwrite(pml4, struct.pack("<Q", pdpt | 0x7) + bytes(PAGE - 8))
    ent = b""
    for i in range(4):
        pd = PT_BASE + (2 + i) * PAGE
        ent += struct.pack("<Q", pd | 0x7)
        pwrite(pd, b"".join(struct.pack("<Q", ((i * 512 + j) << 21) | 0x87) for j in range(512)))
    pwrite(pdpt, ent + bytes(PAGE - len(ent)))
    return pml4


def load_elf(path):
    data = open(path, "rb").read()
    assert data[:4] == b"\x7fELF" and data[4] == 2, "need ELF64"
    e_type, e_machine = struct.unpack_from("<HH", data, 16)
    e_entry, e_phoff = struct.unpack_from("<QQ", data, 24)
    e_phentsize, e_phnum = struct.unpack_from("<HH", data, 54)
    assert e_machine == 62, "need x86-64"
    assert e_type == 2, "need a non-PIE static executable (gcc -static, ET_EXEC)"
    end = 0
    phdr_va = 0
    for i in range(e_phnum):
        p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align = struct.unpack_from(
            "<IIQQQQQQ", data, e_phoff + i * e_phentsize)
        if p_type == 3:
            raise SystemExit("dynamic executable (PT_INTERP): build with -static")
        if p_type == 1:
            pwrite(p_vaddr, data[p_offset:p_offset + p_filesz])
            if p_memsz > p_filesz:
                pwrite(p_vaddr + p_filesz, bytes(p_memsz - p_filesz))
            end = max(end, p_vaddr + p_memsz)
            if p_offset <= e_phoff < p_offset + p_filesz:
                phdr_va = p_vaddr + (e_phoff - p_offset)
    return e_entry, phdr_va, e_phentsize, e_phnum, end


def build_stack(argv, envp, auxv_base):
    sp = STACK_TOP
    def push_bytes(b):
        nonlocal sp
        sp -= len(b)
        pwrite(sp, b)
        return sp
    argv_p = [push_bytes(a.encode() + b"\0") for a in argv]
    envp_p = [push_bytes(e.encode() + b"\0") for e in envp]
    plat = push_bytes(b"x86_64\0")
    rnd = push_bytes(os.urandom(16))
    sp &= ~0xF
    AT = dict(PHDR=3, PHENT=4, PHNUM=5, PAGESZ=6, BASE=7, FLAGS=8, ENTRY=9, UID=11, EUID=12, GID=13,
              EGID=14, PLATFORM=15, HWCAP=16, CLKTCK=17, SECURE=23, RANDOM=25, HWCAP2=26, EXECFN=31)
    entry, phdr, phent, phnum = auxv_base
    aux = [(AT["PHDR"], phdr), (AT["PHENT"], phent), (AT["PHNUM"], phnum), (AT["PAGESZ"], PAGE),
           (AT["BASE"], 0), (AT["FLAGS"], 0), (AT["ENTRY"], entry), (AT["UID"], 0), (AT["EUID"], 0),
           (AT["GID"], 0), (AT["EGID"], 0), (AT["PLATFORM"], plat), (AT["HWCAP"], 0), (AT["CLKTCK"], 100),
           (AT["SECURE"], 0), (AT["RANDOM"], rnd), (AT["HWCAP2"], 0), (AT["EXECFN"], argv_p[0]), (0, 0)]
    words = [len(argv)] + argv_p + [0] + envp_p + [0]
    for k, v in aux:
        words += [k, v]
    blob = b"".join(struct.pack("<Q", w) for w in words)
    sp -= len(blob)
    sp &= ~0xF
    pwrite(sp, blob)
    return sp


def seg(selector, attr):
    s = bochscpu.Segment()
    s.present = True
    s.selector = selector
    s.base = 0
    s.limit = 0xFFFFFFFF
    s.attr = attr
    return s


class Guest:
    def __init__(self, path, args):
        self.brk_start = 0
        self.brk = 0
        self.mmap_next = MMAP_BASE
        self.exit_code = None
        self.fault = None
        self.nsys = 0
        self.fs_base = 0
        self.exe_path = os.path.abspath(path).encode()
        pml4 = build_page_tables()
        entry, phdr, phent, phnum, end = load_elf(path)
        self.brk_start = self.brk = (end + PAGE - 1) & ~(PAGE - 1)
        pwrite(LSTAR, b"\x90" * 16 + b"\xeb\xfe")
        env = ["PATH=/usr/bin:/bin", "HOME=/"] + [f"{k}={v}" for k, v in os.environ.items() if k.startswith(("LIBXSMM_", "PROBE_", "GUEST_", "LSTM_DIST_"))]
        sp = build_stack([path] + args, env, (entry, phdr, phent, phnum))

        st = bochscpu.State()
        bochscpu.cpu.set_long_mode(st)
        cr0 = bochscpu.cpu.ControlRegister(st.cr0)
        cr0.MP = True; cr0.EM = False; cr0.NE = True; cr0.ET = True
        st.cr0 = int(cr0)
        st.cr4 = st.cr4 | (1 << 5) | (1 << 9) | (1 << 10) | (1 << 16) | (1 << 18)  # PAE OSFXSR OSXMMEXCPT FSGSBASE OSXSAVE
        st.xcr0 = 0x1 | 0x2 | 0x4 | 0x20 | 0x40 | 0x80  # x87 SSE AVX opmask ZMM_Hi256 Hi16_ZMM
        st.efer = st.efer | 1 | (1 << 8) | (1 << 10)  # SCE LME LMA (NXE left as set_long_mode made it)
        st.cr3 = pml4
        st.lstar = LSTAR
        st.star = (0x10 << 32) | (0x1B << 48)
        st.sfmask = 0x700  # clear TF/IF/DF on syscall
        st.mxcsr = 0x1F80
        st.fpcw = 0x37F
        self.ucs, self.uss = seg(0x33, 0x22FB), seg(0x2B, 0xCF3)
        st.cs = self.ucs
        for r in ("ds", "es", "ss", "fs", "gs"):
            setattr(st, r, seg(0x2B, 0xCF3))
        st.rip = entry
        st.rsp = sp
        st.rflags = 0x202
        for r in ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"):
            setattr(st, r, 0)
        self.sess = bochscpu.Session()
        self.sess.missing_page_handler = missing_page
        self.sess.cpu.state = st

    # ---------------------------------------------------------------- syscalls
    def syscall(self, st):
        nr, a = st.rax, (st.rdi, st.rsi, st.rdx, st.r10, st.r8, st.r9)
        self.nsys += 1
        ENOENT, EBADF, ENOMEM, EINVAL, ENOTTY, ENOSYS = 2, 9, 12, 22, 25, 38
        r = -ENOSYS
        if nr in (1,):  # write
            fd, buf, n = a[0], a[1], a[2]
            if fd in (1, 2):
                data = pread(buf, n)
                (sys.stdout if fd == 1 else sys.stderr).buffer.write(data)
                (sys.stdout if fd == 1 else sys.stderr).flush()
                r = n
            else:
                r = -EBADF
        elif nr == 20:  # writev
            fd, iov, cnt = a[0], a[1], a[2]
            tot = 0
            for i in range(cnt):
                base, ln = struct.unpack("<QQ", pread(iov + 16 * i, 16))
                if fd in (1, 2):
                    (sys.stdout if fd == 1 else sys.stderr).buffer.write(pread(base, ln))
                tot += ln
            sys.stdout.flush()
            r = tot if fd in (1, 2) else -EBADF
        elif nr == 12:  # brk
            if a[0] == 0 or a[0] < self.brk_start or a[0] >= MMAP_BASE:
                r = self.brk
            else:
                # Linux frees the pages above a lowered break; growing again gives zeroed memory (glibc's
                # calloc relies on it). Our pages stay mapped, so zero what was used before.
                high = getattr(self, "brk_high", self.brk)
                if a[0] > self.brk and high > self.brk:
                    pwrite(self.brk, bytes(min(a[0], high) - self.brk))
                self.brk_high = max(high, self.brk, a[0])
                self.brk = a[0]
                r = self.brk
        elif nr == 9:  # mmap
            addr, length, prot, flags, fd = a[0], a[1], a[2], a[3], a[4] & 0xFFFFFFFF
            if not (flags & 0x20):  # not MAP_ANONYMOUS
                r = -19  # ENODEV
            else:
                length = (length + PAGE - 1) & ~(PAGE - 1)
                if flags & 0x10 and addr:  # MAP_FIXED: memory already identity-mapped; zero it
                    pwrite(addr, bytes(length)); r = addr
                elif self.mmap_next + length > MMAP_END:
                    r = -ENOMEM
                else:
                    r = self.mmap_next
                    self.mmap_next += length
        elif nr in (10, 11, 28, 26):  # mprotect munmap madvise msync
            r = 0
        elif nr == 25:  # mremap
            r = -ENOMEM
        elif nr == 158:  # arch_prctl
            if a[0] == 0x1002:  # ARCH_SET_FS
                self.fs_base = a[1]
                fs = seg(0, 0xCF3); fs.base = a[1]; st.fs = fs
                r = 0
            elif a[0] == 0x1003:
                pwrite(a[1], struct.pack("<Q", self.fs_base)); r = 0
            else:
                r = -EINVAL
        elif nr in (218, 39, 186, 110):  # set_tid_address getpid gettid getppid
            r = 1000
        elif nr in (273, 13, 14, 131, 24, 102, 104, 107, 108, 202, 3):  # set_robust_list sigaction sigprocmask sigaltstack sched_yield get*id futex close
            r = 0
        elif nr == 334:  # rseq
            r = -ENOSYS
        elif nr == 302:  # prlimit64
            if a[3]:
                pwrite(a[3], struct.pack("<QQ", 8 << 20, 0xFFFFFFFFFFFFFFFF))
            r = 0
        elif nr == 97:  # getrlimit
            pwrite(a[1], struct.pack("<QQ", 8 << 20, 0xFFFFFFFFFFFFFFFF)); r = 0
        elif nr == 318:  # getrandom
            pwrite(a[0], os.urandom(a[1])); r = a[1]
        elif nr in (228,):  # clock_gettime
            t = time.time() if a[0] == 0 else time.monotonic()
            pwrite(a[1], struct.pack("<qq", int(t), int((t % 1) * 1e9))); r = 0
        elif nr == 96:  # gettimeofday
            t = time.time()
            if a[0]:
                pwrite(a[0], struct.pack("<qq", int(t), int((t % 1) * 1e6)))
            r = 0
        elif nr == 201:  # time
            r = int(time.time())
            if a[0]:
                pwrite(a[0], struct.pack("<q", r))
        elif nr == 63:  # uname
            f = [b"Linux", b"bxrun", b"6.1.0", b"#1", b"x86_64", b"(none)"]
            pwrite(a[0], b"".join(x.ljust(65, b"\0") for x in f)); r = 0
        elif nr in (5, 262, 4, 6):  # fstat newfstatat stat lstat
            bufp = a[1] if nr in (5, 4, 6) else a[2]
            fd = a[0]
            if nr == 5 and fd not in (0, 1, 2):
                r = -EBADF
            elif nr == 262 and not (fd in (0, 1, 2) and (a[3] & 0x1000)):
                r = -ENOENT
            elif nr in (4, 6):
                r = -ENOENT
            else:
                stt = bytearray(144)
                struct.pack_into("<I", stt, 24, 0o020620)  # st_mode: char device
                struct.pack_into("<q", stt, 56, 1024)      # st_blksize
                pwrite(bufp, stt); r = 0
        elif nr == 72:  # fcntl
            r = 0 if a[0] in (0, 1, 2) else -EBADF
        elif nr == 16:  # ioctl
            r = -ENOTTY
        elif nr in (89, 267) and cstr(a[0] if nr == 89 else a[1]) == b"/proc/self/exe":  # readlink(at) of the executable (Swift runtime asks)
            buf, n = (a[1], a[2]) if nr == 89 else (a[2], a[3])
            data = self.exe_path[:n]
            pwrite(buf, data); r = len(data)
        elif nr in (234, 200, 62):  # tgkill tkill kill (abort, fatalError): no signal delivery, end the run
            sig = a[2] if nr == 234 else a[1]
            print(f"[bxrun] guest raised signal {sig} (syscall {nr}): ending the run", file=sys.stderr)
            self.exit_code = 128 + (sig & 0x7F)
            return None
        elif nr in (2, 257, 21, 89, 267, 85, 87, 83):  # open openat access readlink readlinkat creat unlink mkdir
            if VERBOSE:
                p = a[0] if nr in (2, 21, 89, 85, 87, 83) else a[1]
                print(f"[bxrun] {nr=} path={cstr(p)!r} -> ENOENT", file=sys.stderr)
            r = -ENOENT
        elif nr == 0:  # read
            r = 0 if a[0] == 0 else -EBADF
        elif nr == 8:  # lseek
            r = -29  # ESPIPE
        elif nr == 204:  # sched_getaffinity
            n = min(a[1], 128)
            pwrite(a[2], b"\x01" + bytes(n - 1)); r = n
        elif nr == 99:  # sysinfo
            si = bytearray(112)
            struct.pack_into("<QQ", si, 32, 1 << 32, 1 << 31)  # totalram freeram
            struct.pack_into("<I", si, 104, 1)
            pwrite(a[0], si); r = 0
        elif nr == 79:  # getcwd
            pwrite(a[0], b"/\0"); r = 2
        elif nr in (60, 231):  # exit exit_group
            self.exit_code = a[0] & 0xFF
            return None
        elif nr in (56, 435, 57, 58):  # clone clone3 fork vfork
            r = -ENOSYS
            print(f"[bxrun] guest tried to create a thread/process (syscall {nr}) -> ENOSYS", file=sys.stderr)
        else:
            print(f"[bxrun] unhandled syscall {nr} args={[hex(x) for x in a]} -> ENOSYS", file=sys.stderr)
        if VERBOSE:
            print(f"[bxrun] syscall {nr}({', '.join(hex(x) for x in a[:4])}) = {r:#x}", file=sys.stderr)
        return r & 0xFFFFFFFFFFFFFFFF

    # ---------------------------------------------------------------- main loop
    def run(self):
        self.stopped_for = None

        def far_branch(sess, cpu_id, what, prev_cs, prev_rip, new_cs, new_rip):
            if what == 17 or new_rip == LSTAR:  # IS_SYSCALL
                self.stopped_for = "syscall"
                sess.stop()

        def exception(sess, cpu_id, vector, error_code):
            self.stopped_for = "exception"
            self.fault = (vector, error_code)
            sess.stop()

        hook = bochscpu.Hook()
        hook.far_branch = far_branch
        hook.exception = exception
        t0 = time.time()
        while True:
            self.stopped_for = None
            self.sess.run([hook])
            st = self.sess.cpu.state
            if self.stopped_for == "syscall":
                ret_rip, ret_fl = st.rcx, st.r11
                r = self.syscall(st)
                if r is None:
                    break
                st.rax = r
                st.rip = ret_rip
                st.rflags = (ret_fl | 0x2) & ~0x10000
                st.cs, st.ss = self.ucs, self.uss
                self.sess.cpu.state = st
            else:
                vec, err = self.fault if self.fault else (None, None)
                names = {6: "#UD invalid opcode", 13: "#GP", 14: "#PF page fault", 0: "#DE", 8: "#DF"}
                print(f"[bxrun] guest stopped: {self.stopped_for} vector={vec} ({names.get(vec, '?')}) err={err} "
                      f"rip={st.rip:#x} (Bochs reports rip AFTER the faulting instruction for #UD; disassemble backwards) cr2={st.cr2:#x}", file=sys.stderr)
                try:
                    print(f"[bxrun] bytes at rip: {pread(st.rip, 16).hex()}", file=sys.stderr)
                except Exception:
                    pass
                self.exit_code = 128 + (vec or 0)
                break
        dt = time.time() - t0
        print(f"[bxrun] exit={self.exit_code} syscalls={self.nsys} wall={dt:.2f}s guest_pages={len(host_pages)}",
              file=sys.stderr)
        return self.exit_code


def main():
    global VERBOSE
    args = sys.argv[1:]
    if args and args[0] == "-v":
        VERBOSE = True
        args = args[1:]
    if not args:
        print(__doc__)
        sys.exit(2)
    g = Guest(args[0], args[1:])
    sys.exit(g.run())


if __name__ == "__main__":
    main()
