# Goal: return len + double(len), double being a BPF function
        r1 = *(u32 *)(r1 + 0)    # __sk_buff.len, the argument
        call double
        r0 += r1
        exit
double:
        r0 = r1
        r0 <<= 1
        exit
