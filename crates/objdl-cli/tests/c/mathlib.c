/* libm: cos, pow, sqrt, exp, log, atan2 on values the compiler cannot fold. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    double x = argc > 1 ? strtod(argv[1], NULL) : 0.5;
    volatile double y = x;
    printf("cos=%.12f\n", cos(y));
    printf("sin=%.12f\n", sin(y));
    printf("pow=%.12f\n", pow(y + 1.0, 3.5));
    printf("sqrt=%.12f\n", sqrt(y * 10));
    printf("exp=%.12f log=%.12f\n", exp(y), log(y + 2));
    printf("atan2=%.12f\n", atan2(y, 1.0 - y));
    printf("floor=%.1f ceil=%.1f fmod=%.6f\n", floor(y * 7), ceil(y * 7), fmod(y * 100, 7.0));
    double (*fp)(double) = cos;   /* address of a libm function */
    printf("through pointer=%.12f same=%d\n", fp(y), fp == cos);
    return 0;
}
