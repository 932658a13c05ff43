# xdp: read the IPv4 protocol byte only after proving 34 bytes are in the packet
        r2 = *(u32 *)(r1 + 0)    # xdp_md.data
        r3 = *(u32 *)(r1 + 4)    # xdp_md.data_end
        r0 = 2                   # XDP_PASS
        r4 = r2
        r4 += 34
        if r4 > r3 goto out      # fewer than 34 bytes: pass
        r5 = *(u8 *)(r2 + 23)    # the IPv4 protocol
        if r5 != 17 goto out
        r0 = 1                   # XDP_DROP for UDP
out:
        exit
