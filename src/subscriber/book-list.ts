/**
 * An intrusive doubly-linked list of books: each book carries one BookLink per list it may be on, so pushing,
 * moving to the back and removing are O(1) and allocate nothing (the links are made with the book). The assembly
 * budget keeps its books with idle scratch and its assemblies under way on such lists (assembly.ts).
 * @module
 */
import type { SubscriberBook } from "./subscriber-book.ts";

export class BookLink {
  prev: BookLink | null = null;
  next: BookLink | null = null;
  constructor(readonly book: SubscriberBook) {}
}

export class BookList {
  head: BookLink | null = null;
  tail: BookLink | null = null;

  /** Whether the link is on this list (a link belongs to one list only). */
  has(l: BookLink): boolean {
    return l.prev !== null || this.head === l;
  }

  /** Appends the link, or moves it to the back if it is on the list already. */
  pushBack(l: BookLink): void {
    if (this.tail === l) return;
    this.remove(l);
    l.prev = this.tail;
    if (this.tail === null) this.head = l;
    else this.tail.next = l;
    this.tail = l;
  }

  remove(l: BookLink): void {
    if (!this.has(l)) return;
    if (l.prev === null) this.head = l.next;
    else l.prev.next = l.next;
    if (l.next === null) this.tail = l.prev;
    else l.next.prev = l.prev;
    l.prev = l.next = null;
  }
}
