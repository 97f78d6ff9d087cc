#pragma once
// SmallVector<T, N>: a vector whose first N elements live inside the object itself, so the short
// lists an op handles (shapes, its inputs, their gradients) never touch the heap; past N it
// moves to the heap like std::vector. The idea of c10::SmallVector and llvm::SmallVector.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <new>
#include <stdexcept>
#include <utility>
#include <vector>

namespace minigrad {

template <typename T, std::size_t N>
class SmallVector {
 public:
  using value_type = T;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  using reference = T&;
  using const_reference = const T&;
  using pointer = T*;
  using const_pointer = const T*;
  using iterator = T*;
  using const_iterator = const T*;

  SmallVector() = default;
  explicit SmallVector(size_type count, const T& value = T()) { resize(count, value); }
  SmallVector(std::initializer_list<T> values) { append(values.begin(), values.end()); }
  template <std::input_iterator It>
  SmallVector(It first, It last) {
    append(first, last);
  }
  // Implicit, so code that builds a std::vector (a shape from a file, a list of gradients)
  // passes it where a SmallVector is taken.
  SmallVector(const std::vector<T>& values) { append(values.begin(), values.end()); }
  SmallVector(const SmallVector& other) { append(other.begin(), other.end()); }
  SmallVector(SmallVector&& other) noexcept { steal(other); }
  SmallVector& operator=(const SmallVector& other) {
    if (this != &other) {
      clear();
      append(other.begin(), other.end());
    }
    return *this;
  }
  SmallVector& operator=(SmallVector&& other) noexcept {
    if (this != &other) {
      clear();
      free_heap();
      steal(other);
    }
    return *this;
  }
  ~SmallVector() {
    clear();
    free_heap();
  }

  size_type size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_type capacity() const { return capacity_; }
  T* data() { return data_; }
  const T* data() const { return data_; }
  iterator begin() { return data_; }
  iterator end() { return data_ + size_; }
  const_iterator begin() const { return data_; }
  const_iterator end() const { return data_ + size_; }
  T& operator[](size_type i) { return data_[i]; }
  const T& operator[](size_type i) const { return data_[i]; }
  T& at(size_type i) { return data_[checked(i)]; }
  const T& at(size_type i) const { return data_[checked(i)]; }
  T& front() { return data_[0]; }
  const T& front() const { return data_[0]; }
  T& back() { return data_[size_ - 1]; }
  const T& back() const { return data_[size_ - 1]; }

  template <typename... Args>
  T& emplace_back(Args&&... args) {
    if (size_ == capacity_) {
      // Built before growing: args may refer to one of our own elements.
      T value(std::forward<Args>(args)...);
      grow(size_ + 1);
      return *::new (data_ + size_++) T(std::move(value));
    }
    return *::new (data_ + size_++) T(std::forward<Args>(args)...);
  }
  void push_back(const T& value) { emplace_back(value); }
  void push_back(T&& value) { emplace_back(std::move(value)); }
  void pop_back() { std::destroy_at(data_ + --size_); }
  void clear() {
    std::destroy(begin(), end());
    size_ = 0;
  }
  void reserve(size_type n) {
    if (n > capacity_) grow(n);
  }
  void resize(size_type n, const T& value = T()) {
    if (n < size_) {
      std::destroy(begin() + n, end());
      size_ = n;
      return;
    }
    reserve(n);
    std::uninitialized_fill(end(), begin() + n, value);
    size_ = n;
  }

  // Inserts at the end, then rotates into place: one code path for every insert.
  iterator insert(const_iterator pos, const T& value) {
    const size_type at = pos - begin();
    push_back(value);
    std::rotate(begin() + at, end() - 1, end());
    return begin() + at;
  }
  template <std::input_iterator It>
  iterator insert(const_iterator pos, It first, It last) {
    const size_type at = pos - begin(), old_size = size_;
    append(first, last);
    std::rotate(begin() + at, begin() + old_size, end());
    return begin() + at;
  }
  iterator erase(const_iterator pos) {
    const size_type at = pos - begin();
    std::move(begin() + at + 1, end(), begin() + at);
    pop_back();
    return begin() + at;
  }

  friend bool operator==(const SmallVector& a, const SmallVector& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }

 private:
  template <typename It>
  void append(It first, It last) {
    if constexpr (std::forward_iterator<It>) reserve(size_ + std::distance(first, last));
    for (; first != last; ++first) emplace_back(*first);
  }
  size_type checked(size_type i) const {
    if (i >= size_) throw std::out_of_range("SmallVector::at: index out of range");
    return i;
  }
  bool on_heap() const { return data_ != inline_data(); }
  T* inline_data() { return reinterpret_cast<T*>(inline_); }
  const T* inline_data() const { return reinterpret_cast<const T*>(inline_); }
  void free_heap() {
    if (on_heap()) ::operator delete(data_);
    data_ = inline_data();
    capacity_ = N;
  }
  void grow(size_type min_capacity) {
    const size_type capacity = std::max(min_capacity, 2 * capacity_);
    T* fresh = static_cast<T*>(::operator new(capacity * sizeof(T)));
    std::uninitialized_move(begin(), end(), fresh);
    std::destroy(begin(), end());
    if (on_heap()) ::operator delete(data_);
    data_ = fresh;
    capacity_ = capacity;
  }
  // Takes other's elements, leaving it empty: its heap block if it has one, else moved one by one.
  void steal(SmallVector& other) noexcept {
    if (other.on_heap()) {
      data_ = std::exchange(other.data_, other.inline_data());
      capacity_ = std::exchange(other.capacity_, N);
      size_ = std::exchange(other.size_, 0);
      return;
    }
    std::uninitialized_move(other.begin(), other.end(), data_);
    size_ = other.size_;
    other.clear();
  }

  T* data_ = inline_data();
  size_type size_ = 0;
  size_type capacity_ = N;
  alignas(T) std::byte inline_[N * sizeof(T)];
};

}  // namespace minigrad
