# Solution: a 4-byte read at offset 30 ends at byte 33, so the check must
# prove 34 bytes (r=34); the trace showed r=32 under the failing read
        r2 = *(u32 *)(r1 + 0)    # xdp_md.data
        r3 = *(u32 *)(r1 + 4)    # xdp_md.data_end
        r4 = r2
        r4 += 34                 # offset + size of the read
        if r4 > r3 goto short
        r0 = *(u32 *)(r2 + 30)
        exit
short:
        r0 = 0
        exit
