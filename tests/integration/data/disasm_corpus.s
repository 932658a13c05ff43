# Every eBPF instruction form llvm-mc-19 (-mcpu=v4) can assemble, for the
# differential test in tests/integration/disasm.rs. Generated; edit freely.
r0 += 0
r1 += 1
r2 += -1
r3 += 7
r4 += -8
r5 += 2147483647
r6 += -2147483648
r7 += 65535
r8 += -65536
r9 += 4096
r1 += r2
r0 += r10
r9 += r0
r5 += r5
r1 -= 0
r2 -= 1
r3 -= -1
r4 -= 7
r5 -= -8
r6 -= 2147483647
r7 -= -2147483648
r8 -= 65535
r9 -= -65536
r0 -= 4096
r1 -= r2
r0 -= r10
r9 -= r0
r5 -= r5
r2 *= 0
r3 *= 1
r4 *= -1
r5 *= 7
r6 *= -8
r7 *= 2147483647
r8 *= -2147483648
r9 *= 65535
r0 *= -65536
r1 *= 4096
r1 *= r2
r0 *= r10
r9 *= r0
r5 *= r5
r3 /= 0
r4 /= 1
r5 /= -1
r6 /= 7
r7 /= -8
r8 /= 2147483647
r9 /= -2147483648
r0 /= 65535
r1 /= -65536
r2 /= 4096
r1 /= r2
r0 /= r10
r9 /= r0
r5 /= r5
r4 s/= 0
r5 s/= 1
r6 s/= -1
r7 s/= 7
r8 s/= -8
r9 s/= 2147483647
r0 s/= -2147483648
r1 s/= 65535
r2 s/= -65536
r3 s/= 4096
r1 s/= r2
r0 s/= r10
r9 s/= r0
r5 s/= r5
r5 |= 0
r6 |= 1
r7 |= -1
r8 |= 7
r9 |= -8
r0 |= 2147483647
r1 |= -2147483648
r2 |= 65535
r3 |= -65536
r4 |= 4096
r1 |= r2
r0 |= r10
r9 |= r0
r5 |= r5
r6 &= 0
r7 &= 1
r8 &= -1
r9 &= 7
r0 &= -8
r1 &= 2147483647
r2 &= -2147483648
r3 &= 65535
r4 &= -65536
r5 &= 4096
r1 &= r2
r0 &= r10
r9 &= r0
r5 &= r5
r7 <<= 0
r8 <<= 1
r9 <<= -1
r0 <<= 7
r1 <<= -8
r2 <<= 2147483647
r3 <<= -2147483648
r4 <<= 65535
r5 <<= -65536
r6 <<= 4096
r1 <<= r2
r0 <<= r10
r9 <<= r0
r5 <<= r5
r8 >>= 0
r9 >>= 1
r0 >>= -1
r1 >>= 7
r2 >>= -8
r3 >>= 2147483647
r4 >>= -2147483648
r5 >>= 65535
r6 >>= -65536
r7 >>= 4096
r1 >>= r2
r0 >>= r10
r9 >>= r0
r5 >>= r5
r9 s>>= 0
r0 s>>= 1
r1 s>>= -1
r2 s>>= 7
r3 s>>= -8
r4 s>>= 2147483647
r5 s>>= -2147483648
r6 s>>= 65535
r7 s>>= -65536
r8 s>>= 4096
r1 s>>= r2
r0 s>>= r10
r9 s>>= r0
r5 s>>= r5
r0 %= 0
r1 %= 1
r2 %= -1
r3 %= 7
r4 %= -8
r5 %= 2147483647
r6 %= -2147483648
r7 %= 65535
r8 %= -65536
r9 %= 4096
r1 %= r2
r0 %= r10
r9 %= r0
r5 %= r5
r1 s%= 0
r2 s%= 1
r3 s%= -1
r4 s%= 7
r5 s%= -8
r6 s%= 2147483647
r7 s%= -2147483648
r8 s%= 65535
r9 s%= -65536
r0 s%= 4096
r1 s%= r2
r0 s%= r10
r9 s%= r0
r5 s%= r5
r2 ^= 0
r3 ^= 1
r4 ^= -1
r5 ^= 7
r6 ^= -8
r7 ^= 2147483647
r8 ^= -2147483648
r9 ^= 65535
r0 ^= -65536
r1 ^= 4096
r1 ^= r2
r0 ^= r10
r9 ^= r0
r5 ^= r5
r3 = 0
r4 = 1
r5 = -1
r6 = 7
r7 = -8
r8 = 2147483647
r9 = -2147483648
r0 = 65535
r1 = -65536
r2 = 4096
r1 = r2
r0 = r10
r9 = r0
r5 = r5
w0 += 0
w1 += 1
w2 += -1
w3 += 7
w4 += -8
w5 += 2147483647
w6 += -2147483648
w7 += 65535
w8 += -65536
w9 += 4096
w1 += w2
w0 += w10
w9 += w0
w5 += w5
w1 -= 0
w2 -= 1
w3 -= -1
w4 -= 7
w5 -= -8
w6 -= 2147483647
w7 -= -2147483648
w8 -= 65535
w9 -= -65536
w0 -= 4096
w1 -= w2
w0 -= w10
w9 -= w0
w5 -= w5
w2 *= 0
w3 *= 1
w4 *= -1
w5 *= 7
w6 *= -8
w7 *= 2147483647
w8 *= -2147483648
w9 *= 65535
w0 *= -65536
w1 *= 4096
w1 *= w2
w0 *= w10
w9 *= w0
w5 *= w5
w3 /= 0
w4 /= 1
w5 /= -1
w6 /= 7
w7 /= -8
w8 /= 2147483647
w9 /= -2147483648
w0 /= 65535
w1 /= -65536
w2 /= 4096
w1 /= w2
w0 /= w10
w9 /= w0
w5 /= w5
w4 s/= 0
w5 s/= 1
w6 s/= -1
w7 s/= 7
w8 s/= -8
w9 s/= 2147483647
w0 s/= -2147483648
w1 s/= 65535
w2 s/= -65536
w3 s/= 4096
w1 s/= w2
w0 s/= w10
w9 s/= w0
w5 s/= w5
w5 |= 0
w6 |= 1
w7 |= -1
w8 |= 7
w9 |= -8
w0 |= 2147483647
w1 |= -2147483648
w2 |= 65535
w3 |= -65536
w4 |= 4096
w1 |= w2
w0 |= w10
w9 |= w0
w5 |= w5
w6 &= 0
w7 &= 1
w8 &= -1
w9 &= 7
w0 &= -8
w1 &= 2147483647
w2 &= -2147483648
w3 &= 65535
w4 &= -65536
w5 &= 4096
w1 &= w2
w0 &= w10
w9 &= w0
w5 &= w5
w7 <<= 0
w8 <<= 1
w9 <<= -1
w0 <<= 7
w1 <<= -8
w2 <<= 2147483647
w3 <<= -2147483648
w4 <<= 65535
w5 <<= -65536
w6 <<= 4096
w1 <<= w2
w0 <<= w10
w9 <<= w0
w5 <<= w5
w8 >>= 0
w9 >>= 1
w0 >>= -1
w1 >>= 7
w2 >>= -8
w3 >>= 2147483647
w4 >>= -2147483648
w5 >>= 65535
w6 >>= -65536
w7 >>= 4096
w1 >>= w2
w0 >>= w10
w9 >>= w0
w5 >>= w5
w9 s>>= 0
w0 s>>= 1
w1 s>>= -1
w2 s>>= 7
w3 s>>= -8
w4 s>>= 2147483647
w5 s>>= -2147483648
w6 s>>= 65535
w7 s>>= -65536
w8 s>>= 4096
w1 s>>= w2
w0 s>>= w10
w9 s>>= w0
w5 s>>= w5
w0 %= 0
w1 %= 1
w2 %= -1
w3 %= 7
w4 %= -8
w5 %= 2147483647
w6 %= -2147483648
w7 %= 65535
w8 %= -65536
w9 %= 4096
w1 %= w2
w0 %= w10
w9 %= w0
w5 %= w5
w1 s%= 0
w2 s%= 1
w3 s%= -1
w4 s%= 7
w5 s%= -8
w6 s%= 2147483647
w7 s%= -2147483648
w8 s%= 65535
w9 s%= -65536
w0 s%= 4096
w1 s%= w2
w0 s%= w10
w9 s%= w0
w5 s%= w5
w2 ^= 0
w3 ^= 1
w4 ^= -1
w5 ^= 7
w6 ^= -8
w7 ^= 2147483647
w8 ^= -2147483648
w9 ^= 65535
w0 ^= -65536
w1 ^= 4096
w1 ^= w2
w0 ^= w10
w9 ^= w0
w5 ^= w5
w3 = 0
w4 = 1
w5 = -1
w6 = 7
w7 = -8
w8 = 2147483647
w9 = -2147483648
w0 = 65535
w1 = -65536
w2 = 4096
w1 = w2
w0 = w10
w9 = w0
w5 = w5
r0 = -r0
r1 = -r1
r9 = -r9
w0 = -w0
w1 = -w1
w9 = -w9
w1 = (s8)w2
w0 = (s8)w10
w9 = (s8)w9
w1 = (s16)w2
w0 = (s16)w10
w9 = (s16)w9
r1 = (s8)r2
r0 = (s8)r10
r9 = (s8)r9
r1 = (s16)r2
r0 = (s16)r10
r9 = (s16)r9
r1 = (s32)r2
r0 = (s32)r10
r9 = (s32)r9
r0 = le16 r0
r0 = be16 r0
r0 = bswap16 r0
r1 = le16 r1
r1 = be16 r1
r1 = bswap16 r1
r9 = le16 r9
r9 = be16 r9
r9 = bswap16 r9
r0 = le32 r0
r0 = be32 r0
r0 = bswap32 r0
r1 = le32 r1
r1 = be32 r1
r1 = bswap32 r1
r9 = le32 r9
r9 = be32 r9
r9 = bswap32 r9
r0 = le64 r0
r0 = be64 r0
r0 = bswap64 r0
r1 = le64 r1
r1 = be64 r1
r1 = bswap64 r1
r9 = le64 r9
r9 = be64 r9
r9 = bswap64 r9
if r0 == 0 goto +0
if r1 == 1 goto +1
if r2 == -1 goto -1
if r3 == 7 goto +32767
if r4 == -8 goto -32768
if r5 == 2147483647 goto +100
if r6 == -2147483648 goto -100
if r7 == 65535 goto +0
if r8 == -65536 goto +1
if r9 == 4096 goto -1
if r2 == r3 goto +0
if r10 == r0 goto +1
if r0 == r10 goto -1
if r9 == r9 goto +32767
if r1 > 0 goto +1
if r2 > 1 goto -1
if r3 > -1 goto +32767
if r4 > 7 goto -32768
if r5 > -8 goto +100
if r6 > 2147483647 goto -100
if r7 > -2147483648 goto +0
if r8 > 65535 goto +1
if r9 > -65536 goto -1
if r10 > 4096 goto +32767
if r2 > r3 goto +1
if r10 > r0 goto -1
if r0 > r10 goto +32767
if r9 > r9 goto -32768
if r2 >= 0 goto -1
if r3 >= 1 goto +32767
if r4 >= -1 goto -32768
if r5 >= 7 goto +100
if r6 >= -8 goto -100
if r7 >= 2147483647 goto +0
if r8 >= -2147483648 goto +1
if r9 >= 65535 goto -1
if r10 >= -65536 goto +32767
if r0 >= 4096 goto -32768
if r2 >= r3 goto -1
if r10 >= r0 goto +32767
if r0 >= r10 goto -32768
if r9 >= r9 goto +100
if r3 & 0 goto +32767
if r4 & 1 goto -32768
if r5 & -1 goto +100
if r6 & 7 goto -100
if r7 & -8 goto +0
if r8 & 2147483647 goto +1
if r9 & -2147483648 goto -1
if r10 & 65535 goto +32767
if r0 & -65536 goto -32768
if r1 & 4096 goto +100
if r2 & r3 goto +32767
if r10 & r0 goto -32768
if r0 & r10 goto +100
if r9 & r9 goto -100
if r4 != 0 goto -32768
if r5 != 1 goto +100
if r6 != -1 goto -100
if r7 != 7 goto +0
if r8 != -8 goto +1
if r9 != 2147483647 goto -1
if r10 != -2147483648 goto +32767
if r0 != 65535 goto -32768
if r1 != -65536 goto +100
if r2 != 4096 goto -100
if r2 != r3 goto -32768
if r10 != r0 goto +100
if r0 != r10 goto -100
if r9 != r9 goto +0
if r5 s> 0 goto +100
if r6 s> 1 goto -100
if r7 s> -1 goto +0
if r8 s> 7 goto +1
if r9 s> -8 goto -1
if r10 s> 2147483647 goto +32767
if r0 s> -2147483648 goto -32768
if r1 s> 65535 goto +100
if r2 s> -65536 goto -100
if r3 s> 4096 goto +0
if r2 s> r3 goto +100
if r10 s> r0 goto -100
if r0 s> r10 goto +0
if r9 s> r9 goto +1
if r6 s>= 0 goto -100
if r7 s>= 1 goto +0
if r8 s>= -1 goto +1
if r9 s>= 7 goto -1
if r10 s>= -8 goto +32767
if r0 s>= 2147483647 goto -32768
if r1 s>= -2147483648 goto +100
if r2 s>= 65535 goto -100
if r3 s>= -65536 goto +0
if r4 s>= 4096 goto +1
if r2 s>= r3 goto -100
if r10 s>= r0 goto +0
if r0 s>= r10 goto +1
if r9 s>= r9 goto -1
if r7 < 0 goto +0
if r8 < 1 goto +1
if r9 < -1 goto -1
if r10 < 7 goto +32767
if r0 < -8 goto -32768
if r1 < 2147483647 goto +100
if r2 < -2147483648 goto -100
if r3 < 65535 goto +0
if r4 < -65536 goto +1
if r5 < 4096 goto -1
if r2 < r3 goto +0
if r10 < r0 goto +1
if r0 < r10 goto -1
if r9 < r9 goto +32767
if r8 <= 0 goto +1
if r9 <= 1 goto -1
if r10 <= -1 goto +32767
if r0 <= 7 goto -32768
if r1 <= -8 goto +100
if r2 <= 2147483647 goto -100
if r3 <= -2147483648 goto +0
if r4 <= 65535 goto +1
if r5 <= -65536 goto -1
if r6 <= 4096 goto +32767
if r2 <= r3 goto +1
if r10 <= r0 goto -1
if r0 <= r10 goto +32767
if r9 <= r9 goto -32768
if r9 s< 0 goto -1
if r10 s< 1 goto +32767
if r0 s< -1 goto -32768
if r1 s< 7 goto +100
if r2 s< -8 goto -100
if r3 s< 2147483647 goto +0
if r4 s< -2147483648 goto +1
if r5 s< 65535 goto -1
if r6 s< -65536 goto +32767
if r7 s< 4096 goto -32768
if r2 s< r3 goto -1
if r10 s< r0 goto +32767
if r0 s< r10 goto -32768
if r9 s< r9 goto +100
if r10 s<= 0 goto +32767
if r0 s<= 1 goto -32768
if r1 s<= -1 goto +100
if r2 s<= 7 goto -100
if r3 s<= -8 goto +0
if r4 s<= 2147483647 goto +1
if r5 s<= -2147483648 goto -1
if r6 s<= 65535 goto +32767
if r7 s<= -65536 goto -32768
if r8 s<= 4096 goto +100
if r2 s<= r3 goto +32767
if r10 s<= r0 goto -32768
if r0 s<= r10 goto +100
if r9 s<= r9 goto -100
if w0 == 0 goto +0
if w1 == 1 goto +1
if w2 == -1 goto -1
if w3 == 7 goto +32767
if w4 == -8 goto -32768
if w5 == 2147483647 goto +100
if w6 == -2147483648 goto -100
if w7 == 65535 goto +0
if w8 == -65536 goto +1
if w9 == 4096 goto -1
if w2 == w3 goto +0
if w10 == w0 goto +1
if w0 == w10 goto -1
if w9 == w9 goto +32767
if w1 > 0 goto +1
if w2 > 1 goto -1
if w3 > -1 goto +32767
if w4 > 7 goto -32768
if w5 > -8 goto +100
if w6 > 2147483647 goto -100
if w7 > -2147483648 goto +0
if w8 > 65535 goto +1
if w9 > -65536 goto -1
if w10 > 4096 goto +32767
if w2 > w3 goto +1
if w10 > w0 goto -1
if w0 > w10 goto +32767
if w9 > w9 goto -32768
if w2 >= 0 goto -1
if w3 >= 1 goto +32767
if w4 >= -1 goto -32768
if w5 >= 7 goto +100
if w6 >= -8 goto -100
if w7 >= 2147483647 goto +0
if w8 >= -2147483648 goto +1
if w9 >= 65535 goto -1
if w10 >= -65536 goto +32767
if w0 >= 4096 goto -32768
if w2 >= w3 goto -1
if w10 >= w0 goto +32767
if w0 >= w10 goto -32768
if w9 >= w9 goto +100
if w3 & 0 goto +32767
if w4 & 1 goto -32768
if w5 & -1 goto +100
if w6 & 7 goto -100
if w7 & -8 goto +0
if w8 & 2147483647 goto +1
if w9 & -2147483648 goto -1
if w10 & 65535 goto +32767
if w0 & -65536 goto -32768
if w1 & 4096 goto +100
if w2 & w3 goto +32767
if w10 & w0 goto -32768
if w0 & w10 goto +100
if w9 & w9 goto -100
if w4 != 0 goto -32768
if w5 != 1 goto +100
if w6 != -1 goto -100
if w7 != 7 goto +0
if w8 != -8 goto +1
if w9 != 2147483647 goto -1
if w10 != -2147483648 goto +32767
if w0 != 65535 goto -32768
if w1 != -65536 goto +100
if w2 != 4096 goto -100
if w2 != w3 goto -32768
if w10 != w0 goto +100
if w0 != w10 goto -100
if w9 != w9 goto +0
if w5 s> 0 goto +100
if w6 s> 1 goto -100
if w7 s> -1 goto +0
if w8 s> 7 goto +1
if w9 s> -8 goto -1
if w10 s> 2147483647 goto +32767
if w0 s> -2147483648 goto -32768
if w1 s> 65535 goto +100
if w2 s> -65536 goto -100
if w3 s> 4096 goto +0
if w2 s> w3 goto +100
if w10 s> w0 goto -100
if w0 s> w10 goto +0
if w9 s> w9 goto +1
if w6 s>= 0 goto -100
if w7 s>= 1 goto +0
if w8 s>= -1 goto +1
if w9 s>= 7 goto -1
if w10 s>= -8 goto +32767
if w0 s>= 2147483647 goto -32768
if w1 s>= -2147483648 goto +100
if w2 s>= 65535 goto -100
if w3 s>= -65536 goto +0
if w4 s>= 4096 goto +1
if w2 s>= w3 goto -100
if w10 s>= w0 goto +0
if w0 s>= w10 goto +1
if w9 s>= w9 goto -1
if w7 < 0 goto +0
if w8 < 1 goto +1
if w9 < -1 goto -1
if w10 < 7 goto +32767
if w0 < -8 goto -32768
if w1 < 2147483647 goto +100
if w2 < -2147483648 goto -100
if w3 < 65535 goto +0
if w4 < -65536 goto +1
if w5 < 4096 goto -1
if w2 < w3 goto +0
if w10 < w0 goto +1
if w0 < w10 goto -1
if w9 < w9 goto +32767
if w8 <= 0 goto +1
if w9 <= 1 goto -1
if w10 <= -1 goto +32767
if w0 <= 7 goto -32768
if w1 <= -8 goto +100
if w2 <= 2147483647 goto -100
if w3 <= -2147483648 goto +0
if w4 <= 65535 goto +1
if w5 <= -65536 goto -1
if w6 <= 4096 goto +32767
if w2 <= w3 goto +1
if w10 <= w0 goto -1
if w0 <= w10 goto +32767
if w9 <= w9 goto -32768
if w9 s< 0 goto -1
if w10 s< 1 goto +32767
if w0 s< -1 goto -32768
if w1 s< 7 goto +100
if w2 s< -8 goto -100
if w3 s< 2147483647 goto +0
if w4 s< -2147483648 goto +1
if w5 s< 65535 goto -1
if w6 s< -65536 goto +32767
if w7 s< 4096 goto -32768
if w2 s< w3 goto -1
if w10 s< w0 goto +32767
if w0 s< w10 goto -32768
if w9 s< w9 goto +100
if w10 s<= 0 goto +32767
if w0 s<= 1 goto -32768
if w1 s<= -1 goto +100
if w2 s<= 7 goto -100
if w3 s<= -8 goto +0
if w4 s<= 2147483647 goto +1
if w5 s<= -2147483648 goto -1
if w6 s<= 65535 goto +32767
if w7 s<= -65536 goto -32768
if w8 s<= 4096 goto +100
if w2 s<= w3 goto +32767
if w10 s<= w0 goto -32768
if w0 s<= w10 goto +100
if w9 s<= w9 goto -100
goto +0
gotol +0
may_goto +0
goto +1
gotol +1
may_goto +1
goto -1
gotol -1
may_goto -1
goto +32767
gotol +32767
may_goto +32767
goto -32768
gotol -32768
may_goto -32768
goto +100
gotol +100
may_goto +100
goto -100
gotol -100
may_goto -100
call 0
call 1
call 5
call 71
call 211
call 212
call -1
call 2147483647
call -2147483648
exit
r0 = *(u8 *)(r0 + 0)
*(u8 *)(r0 + 0) = r0
*(u8 *)(r0 + 0) = 0
r1 = *(u8 *)(r1 + 1)
*(u8 *)(r1 + 1) = r1
*(u8 *)(r1 + 1) = 1
r2 = *(u8 *)(r2 - 1)
*(u8 *)(r2 - 1) = r2
*(u8 *)(r2 - 1) = -1
r3 = *(u8 *)(r3 + 32767)
*(u8 *)(r3 + 32767) = r3
*(u8 *)(r3 + 32767) = 7
r4 = *(u8 *)(r4 - 32768)
*(u8 *)(r4 - 32768) = r4
*(u8 *)(r4 - 32768) = -8
r5 = *(u8 *)(r5 + 8)
*(u8 *)(r5 + 8) = r5
*(u8 *)(r5 + 8) = 2147483647
r6 = *(u8 *)(r6 - 512)
*(u8 *)(r6 - 512) = r6
*(u8 *)(r6 - 512) = -2147483648
r0 = *(u16 *)(r1 + 0)
*(u16 *)(r1 + 0) = r0
*(u16 *)(r1 + 0) = 1
r1 = *(u16 *)(r2 + 1)
*(u16 *)(r2 + 1) = r1
*(u16 *)(r2 + 1) = -1
r2 = *(u16 *)(r3 - 1)
*(u16 *)(r3 - 1) = r2
*(u16 *)(r3 - 1) = 7
r3 = *(u16 *)(r4 + 32767)
*(u16 *)(r4 + 32767) = r3
*(u16 *)(r4 + 32767) = -8
r4 = *(u16 *)(r5 - 32768)
*(u16 *)(r5 - 32768) = r4
*(u16 *)(r5 - 32768) = 2147483647
r5 = *(u16 *)(r6 + 8)
*(u16 *)(r6 + 8) = r5
*(u16 *)(r6 + 8) = -2147483648
r6 = *(u16 *)(r7 - 512)
*(u16 *)(r7 - 512) = r6
*(u16 *)(r7 - 512) = 65535
r0 = *(u32 *)(r2 + 0)
*(u32 *)(r2 + 0) = r0
*(u32 *)(r2 + 0) = -1
r1 = *(u32 *)(r3 + 1)
*(u32 *)(r3 + 1) = r1
*(u32 *)(r3 + 1) = 7
r2 = *(u32 *)(r4 - 1)
*(u32 *)(r4 - 1) = r2
*(u32 *)(r4 - 1) = -8
r3 = *(u32 *)(r5 + 32767)
*(u32 *)(r5 + 32767) = r3
*(u32 *)(r5 + 32767) = 2147483647
r4 = *(u32 *)(r6 - 32768)
*(u32 *)(r6 - 32768) = r4
*(u32 *)(r6 - 32768) = -2147483648
r5 = *(u32 *)(r7 + 8)
*(u32 *)(r7 + 8) = r5
*(u32 *)(r7 + 8) = 65535
r6 = *(u32 *)(r8 - 512)
*(u32 *)(r8 - 512) = r6
*(u32 *)(r8 - 512) = -65536
r0 = *(u64 *)(r3 + 0)
*(u64 *)(r3 + 0) = r0
*(u64 *)(r3 + 0) = 7
r1 = *(u64 *)(r4 + 1)
*(u64 *)(r4 + 1) = r1
*(u64 *)(r4 + 1) = -8
r2 = *(u64 *)(r5 - 1)
*(u64 *)(r5 - 1) = r2
*(u64 *)(r5 - 1) = 2147483647
r3 = *(u64 *)(r6 + 32767)
*(u64 *)(r6 + 32767) = r3
*(u64 *)(r6 + 32767) = -2147483648
r4 = *(u64 *)(r7 - 32768)
*(u64 *)(r7 - 32768) = r4
*(u64 *)(r7 - 32768) = 65535
r5 = *(u64 *)(r8 + 8)
*(u64 *)(r8 + 8) = r5
*(u64 *)(r8 + 8) = -65536
r6 = *(u64 *)(r9 - 512)
*(u64 *)(r9 - 512) = r6
*(u64 *)(r9 - 512) = 4096
r0 = *(s8 *)(r3 + 0)
r1 = *(s8 *)(r4 + 1)
r2 = *(s8 *)(r5 - 1)
r3 = *(s8 *)(r6 + 32767)
r4 = *(s8 *)(r7 - 32768)
r5 = *(s8 *)(r8 + 8)
r6 = *(s8 *)(r9 - 512)
r0 = *(s16 *)(r3 + 0)
r1 = *(s16 *)(r4 + 1)
r2 = *(s16 *)(r5 - 1)
r3 = *(s16 *)(r6 + 32767)
r4 = *(s16 *)(r7 - 32768)
r5 = *(s16 *)(r8 + 8)
r6 = *(s16 *)(r9 - 512)
r0 = *(s32 *)(r3 + 0)
r1 = *(s32 *)(r4 + 1)
r2 = *(s32 *)(r5 - 1)
r3 = *(s32 *)(r6 + 32767)
r4 = *(s32 *)(r7 - 32768)
r5 = *(s32 *)(r8 + 8)
r6 = *(s32 *)(r9 - 512)
lock *(u64 *)(r1 + 0) += r2
lock *(u64 *)(r1 + 0) |= r2
lock *(u64 *)(r1 + 0) &= r2
lock *(u64 *)(r1 + 0) ^= r2
r2 = atomic_fetch_add((u64 *)(r1 + 0), r2)
r2 = atomic_fetch_or((u64 *)(r1 + 0), r2)
r2 = atomic_fetch_and((u64 *)(r1 + 0), r2)
r2 = atomic_fetch_xor((u64 *)(r1 + 0), r2)
r2 = xchg_64(r1 + 0, r2)
r0 = cmpxchg_64(r1 + 0, r0, r2)
lock *(u64 *)(r2 + 8) += r3
lock *(u64 *)(r2 + 8) |= r3
lock *(u64 *)(r2 + 8) &= r3
lock *(u64 *)(r2 + 8) ^= r3
r3 = atomic_fetch_add((u64 *)(r2 + 8), r3)
r3 = atomic_fetch_or((u64 *)(r2 + 8), r3)
r3 = atomic_fetch_and((u64 *)(r2 + 8), r3)
r3 = atomic_fetch_xor((u64 *)(r2 + 8), r3)
r3 = xchg_64(r2 + 8, r3)
r0 = cmpxchg_64(r2 + 8, r0, r3)
lock *(u64 *)(r3 - 8) += r4
lock *(u64 *)(r3 - 8) |= r4
lock *(u64 *)(r3 - 8) &= r4
lock *(u64 *)(r3 - 8) ^= r4
r4 = atomic_fetch_add((u64 *)(r3 - 8), r4)
r4 = atomic_fetch_or((u64 *)(r3 - 8), r4)
r4 = atomic_fetch_and((u64 *)(r3 - 8), r4)
r4 = atomic_fetch_xor((u64 *)(r3 - 8), r4)
r4 = xchg_64(r3 - 8, r4)
r0 = cmpxchg_64(r3 - 8, r0, r4)
lock *(u64 *)(r4 + 32767) += r5
lock *(u64 *)(r4 + 32767) |= r5
lock *(u64 *)(r4 + 32767) &= r5
lock *(u64 *)(r4 + 32767) ^= r5
r5 = atomic_fetch_add((u64 *)(r4 + 32767), r5)
r5 = atomic_fetch_or((u64 *)(r4 + 32767), r5)
r5 = atomic_fetch_and((u64 *)(r4 + 32767), r5)
r5 = atomic_fetch_xor((u64 *)(r4 + 32767), r5)
r5 = xchg_64(r4 + 32767, r5)
r0 = cmpxchg_64(r4 + 32767, r0, r5)
lock *(u64 *)(r5 - 32768) += r6
lock *(u64 *)(r5 - 32768) |= r6
lock *(u64 *)(r5 - 32768) &= r6
lock *(u64 *)(r5 - 32768) ^= r6
r6 = atomic_fetch_add((u64 *)(r5 - 32768), r6)
r6 = atomic_fetch_or((u64 *)(r5 - 32768), r6)
r6 = atomic_fetch_and((u64 *)(r5 - 32768), r6)
r6 = atomic_fetch_xor((u64 *)(r5 - 32768), r6)
r6 = xchg_64(r5 - 32768, r6)
r0 = cmpxchg_64(r5 - 32768, r0, r6)
lock *(u32 *)(r1 + 0) += w2
lock *(u32 *)(r1 + 0) |= w2
lock *(u32 *)(r1 + 0) &= w2
lock *(u32 *)(r1 + 0) ^= w2
w2 = atomic_fetch_add((u32 *)(r1 + 0), w2)
w2 = atomic_fetch_or((u32 *)(r1 + 0), w2)
w2 = atomic_fetch_and((u32 *)(r1 + 0), w2)
w2 = atomic_fetch_xor((u32 *)(r1 + 0), w2)
w2 = xchg32_32(r1 + 0, w2)
w0 = cmpxchg32_32(r1 + 0, w0, w2)
lock *(u32 *)(r2 + 8) += w3
lock *(u32 *)(r2 + 8) |= w3
lock *(u32 *)(r2 + 8) &= w3
lock *(u32 *)(r2 + 8) ^= w3
w3 = atomic_fetch_add((u32 *)(r2 + 8), w3)
w3 = atomic_fetch_or((u32 *)(r2 + 8), w3)
w3 = atomic_fetch_and((u32 *)(r2 + 8), w3)
w3 = atomic_fetch_xor((u32 *)(r2 + 8), w3)
w3 = xchg32_32(r2 + 8, w3)
w0 = cmpxchg32_32(r2 + 8, w0, w3)
lock *(u32 *)(r3 - 8) += w4
lock *(u32 *)(r3 - 8) |= w4
lock *(u32 *)(r3 - 8) &= w4
lock *(u32 *)(r3 - 8) ^= w4
w4 = atomic_fetch_add((u32 *)(r3 - 8), w4)
w4 = atomic_fetch_or((u32 *)(r3 - 8), w4)
w4 = atomic_fetch_and((u32 *)(r3 - 8), w4)
w4 = atomic_fetch_xor((u32 *)(r3 - 8), w4)
w4 = xchg32_32(r3 - 8, w4)
w0 = cmpxchg32_32(r3 - 8, w0, w4)
lock *(u32 *)(r4 + 32767) += w5
lock *(u32 *)(r4 + 32767) |= w5
lock *(u32 *)(r4 + 32767) &= w5
lock *(u32 *)(r4 + 32767) ^= w5
w5 = atomic_fetch_add((u32 *)(r4 + 32767), w5)
w5 = atomic_fetch_or((u32 *)(r4 + 32767), w5)
w5 = atomic_fetch_and((u32 *)(r4 + 32767), w5)
w5 = atomic_fetch_xor((u32 *)(r4 + 32767), w5)
w5 = xchg32_32(r4 + 32767, w5)
w0 = cmpxchg32_32(r4 + 32767, w0, w5)
lock *(u32 *)(r5 - 32768) += w6
lock *(u32 *)(r5 - 32768) |= w6
lock *(u32 *)(r5 - 32768) &= w6
lock *(u32 *)(r5 - 32768) ^= w6
w6 = atomic_fetch_add((u32 *)(r5 - 32768), w6)
w6 = atomic_fetch_or((u32 *)(r5 - 32768), w6)
w6 = atomic_fetch_and((u32 *)(r5 - 32768), w6)
w6 = atomic_fetch_xor((u32 *)(r5 - 32768), w6)
w6 = xchg32_32(r5 - 32768, w6)
w0 = cmpxchg32_32(r5 - 32768, w0, w6)
r0 = 0 ll
r1 = 1 ll
r2 = -1 ll
r3 = 1234605616436508552 ll
r4 = 9223372036854775807 ll
r5 = -9223372036854775808 ll
r6 = 4294967296 ll
r7 = 4294967295 ll
r8 = -4294967296 ll
r9 = 2147483648 ll
r0 = *(u8 *)skb[0]
r0 = *(u8 *)skb[-1]
r0 = *(u8 *)skb[12]
r0 = *(u8 *)skb[2147483647]
r0 = *(u8 *)skb[-2147483648]
r0 = *(u8 *)skb[r0]
r0 = *(u8 *)skb[r2]
r0 = *(u8 *)skb[r9]
r0 = *(u8 *)skb[r10]
r0 = *(u16 *)skb[0]
r0 = *(u16 *)skb[-1]
r0 = *(u16 *)skb[12]
r0 = *(u16 *)skb[2147483647]
r0 = *(u16 *)skb[-2147483648]
r0 = *(u16 *)skb[r0]
r0 = *(u16 *)skb[r2]
r0 = *(u16 *)skb[r9]
r0 = *(u16 *)skb[r10]
r0 = *(u32 *)skb[0]
r0 = *(u32 *)skb[-1]
r0 = *(u32 *)skb[12]
r0 = *(u32 *)skb[2147483647]
r0 = *(u32 *)skb[-2147483648]
r0 = *(u32 *)skb[r0]
r0 = *(u32 *)skb[r2]
r0 = *(u32 *)skb[r9]
r0 = *(u32 *)skb[r10]
# addr_space_cast (kernel 6.9): ALU64 MOV X, off 1, imm = dst_as << 16 | src_as.
r1 = addr_space_cast(r2, 0, 1)
r1 = addr_space_cast(r2, 1, 0)
r0 = addr_space_cast(r10, 65535, 65534)
r9 = addr_space_cast(r0, 5, 3)
r5 = addr_space_cast(r5, 0, 0)
