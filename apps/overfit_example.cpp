// Placeholder until the overfit example lands.
int main() { return 0; }
